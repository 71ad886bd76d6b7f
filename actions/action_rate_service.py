from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from actions.reply import reply
from actions.safety import politely
from bot import clock
from bot.db.engine import unit_of_work
from bot.handoff.repositories import CaseRepository

SCORES = {"1", "2", "3", "4", "5"}


def score_of(tracker: Tracker) -> Optional[int]:
    """1-5 from the button's payload (/rate_service{"satisfaction_score":"4"});
    None for anything else."""
    for entity in tracker.latest_message.get("entities") or []:
        value = str(entity.get("value")).strip()
        if entity.get("entity") == "satisfaction_score" and value in SCORES:
            return int(value)
    return None


class ActionRateService(Action):
    """Store the customer's 1-5 rating of their latest closed case (handbook
    6.3); the comment form then asks for optional words."""

    def name(self) -> Text:
        return "action_rate_service"

    @politely
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        score = score_of(tracker)
        number = None
        if score is not None:
            with unit_of_work() as session:
                repo = CaseRepository(session)
                case = repo.awaiting_satisfaction(tracker.sender_id)
                if case is not None:
                    repo.record_satisfaction(case, score, None, clock.now())
                    number = case.number
        if number is None:
            reply(dispatcher, tracker, texts.SATISFACTION_NOT_FOUND)
        return [SlotSet("satisfaction_case", number), SlotSet("satisfaction_comment", None)]
