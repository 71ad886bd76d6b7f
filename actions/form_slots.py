"""Resetting what the forms collected once they are done or abandoned."""
from rasa_sdk.events import SlotSet

APPLICATION_FORM_SLOTS = ("application_number", "phone_last4", "status_locked")
APPOINTMENT_FORM_SLOTS = (
    "service_type",
    "branch",
    "appointment_time",
    "contact_phone",
    "appointment_confirmed",
    "booking_code",
)


def cleared(names):
    return [SlotSet(name, None) for name in names]
