import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from actions.conversation import latest_text
from actions.reply import reply
from actions.safety import politely
from bot import clock
from bot.db.engine import unit_of_work
from bot.handoff.repositories import CaseRepository

SCORE = re.compile(r"(?<![0-9])([1-5])(?![0-9])")


def score_of(tracker: Tracker) -> Optional[int]:
    """1-5 from the button's entity, else the one digit 1-5 the customer typed."""
    values = [
        entity.get("value") for entity in tracker.latest_message.get("entities") or []
        if entity.get("entity") == "satisfaction_score"
    ]
    for value in values + [latest_text(tracker)]:
        found = SCORE.findall(str(value))
        if len(found) == 1:
            return int(found[0])
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
