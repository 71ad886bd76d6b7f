from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from actions.reply import reply
from actions.safety import politely
from bot import clock
from bot.db.engine import unit_of_work
from bot.handoff.repositories import CaseRepository


class ActionSaveSatisfactionComment(Action):
    """Store the optional comment with the rated case, then clear the form's slots."""

    def name(self) -> Text:
        return "action_save_satisfaction_comment"

    @politely
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        number = tracker.get_slot("satisfaction_case")
        comment = tracker.get_slot("satisfaction_comment") or ""
        if number and comment.strip():
            with unit_of_work() as session:
                repo = CaseRepository(session)
                case = repo.by_number(number)
                if case is not None and case.conversation_id == tracker.sender_id:
                    repo.add_satisfaction_comment(case, comment, clock.now())
            reply(dispatcher, tracker, texts.SATISFACTION_COMMENT_SAVED)
        elif number:
            reply(dispatcher, tracker, texts.SATISFACTION_NO_COMMENT)
        return [SlotSet("satisfaction_case", None), SlotSet("satisfaction_comment", None)]
