from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.safety import PoliteFormValidationAction
from bot.script import bare_words

NO_COMMENT = ""
# Read from the words, not the intent: "不满意，太慢了" is a comment, not a "no".
DECLINING = {"不用了", "不用", "没有", "没了", "算了", "跳过", "无", "没有意见", "不需要"}


class ValidateSatisfactionCommentForm(PoliteFormValidationAction):
    """Asks for a comment only when a rating was just stored; "不用了" (or
    any refusal) ends the form without one."""

    def name(self) -> Text:
        return "validate_satisfaction_comment_form"

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        return domain_slots if tracker.get_slot("satisfaction_case") else []

    def validate_satisfaction_comment(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if tracker.get_slot("requested_slot") != "satisfaction_comment":
            # Rasa offers the rating message itself when the form starts: not a comment.
            return {"satisfaction_comment": None}
        text = value.strip() if isinstance(value, str) else ""
        bare = bare_words(text)
        if not bare or text.startswith("/") or bare in DECLINING:
            return {"satisfaction_comment": NO_COMMENT}
        return {"satisfaction_comment": text[:1000]}
