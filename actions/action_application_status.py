from datetime import datetime
from typing import Any, Dict, List, Text
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from actions.form_slots import APPLICATION_FORM_SLOTS, cleared
from actions.reply import reply
from actions.safety import politely
from bot.db.engine import unit_of_work
from bot.db.repositories import ApplicationRepository
from bot.privacy import mask_name
from bot.settings import get_settings
from bot.status.presentation import ApplicationView, describe, mask_application_number

HUMAN_BUTTON = {"title": texts.TO_HUMAN, "payload": "/request_human"}


class ActionApplicationStatus(Action):
    """After the status form: the application's stage for a verified customer,
    or the lock-out notice with a human offered. Clears the form's slots."""

    def name(self) -> Text:
        return "action_application_status"

    @politely
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        number = tracker.get_slot("application_number")
        if tracker.get_slot("status_locked"):
            reply(dispatcher, tracker, texts.VERIFICATION_LOCKED, [HUMAN_BUTTON])
        elif number and number == tracker.get_slot("verified_application"):
            view = self._view(number)
            if view is None:
                reply(dispatcher, tracker, texts.APPLICATION_NOT_AVAILABLE, [HUMAN_BUTTON])
            else:
                reply(dispatcher, tracker, describe(view))
        return cleared(APPLICATION_FORM_SLOTS)

    @staticmethod
    def _view(number: str):
        zone = ZoneInfo(get_settings().timezone)
        with unit_of_work() as session:
            application = ApplicationRepository(session).by_number(number)
            if application is None:
                return None
            latest = application.history[-1] if application.history else None
            since: datetime = latest.changed_at if latest else application.updated_at
            return ApplicationView(
                masked_number=mask_application_number(application.number),
                service_name=application.service_type.name,
                masked_name=mask_name(application.customer.name),
                status=application.status.value,
                since=since.astimezone(zone),
                note=latest.note if latest else None,
                missing_materials=application.missing_materials,
                notification_channel=application.notification_channel.value,
            )
