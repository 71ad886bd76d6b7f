from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from actions.reply import reply
from actions.safety import politely
from bot import clock
from bot.booking.desk import BookingDesk
from bot.db.engine import unit_of_work


class ActionAskBranch(Action):
    """Ask where: one button per active branch, and the video channel."""

    def name(self) -> Text:
        return "action_ask_branch"

    @politely
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        with unit_of_work() as session:
            names = [b.name for b in BookingDesk(session, clock.now()).branches()]
        reply(dispatcher, tracker, texts.ASK_BRANCH, [{"title": n, "payload": n} for n in names])
        return []
