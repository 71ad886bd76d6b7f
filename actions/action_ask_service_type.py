from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from actions.reply import reply
from actions.safety import politely
from bot import clock
from bot.booking.desk import BookingDesk
from bot.db.engine import unit_of_work


class ActionAskServiceType(Action):
    """Ask which service to book, one button per active service type (from the
    database, so operators change the list without retraining)."""

    def name(self) -> Text:
        return "action_ask_service_type"

    @politely
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        with unit_of_work() as session:
            names = [s.name for s in BookingDesk(session, clock.now()).service_types()]
        if not names:
            reply(dispatcher, tracker, texts.NO_SERVICE_TYPES)
            return []
        reply(dispatcher, tracker, texts.ASK_SERVICE_TYPE, [{"title": n, "payload": n} for n in names])
        return []
