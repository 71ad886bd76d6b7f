from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions import catalogue, texts
from actions.conversation import consecutive_fallbacks, faq_candidates, task_candidate
from actions.reply import reply

SUGGESTIONS = 3
# When even the best candidate scores below this, suggestions would be noise.
MIN_SUGGESTION_CONFIDENCE = 0.05
FALLBACKS_BEFORE_HUMAN = 2
# A task the customer may want done rather than explained, offered first.
MIN_TASK_CONFIDENCE = 0.3


class ActionClarify(Action):
    """The bot is unsure: ask "您是不是想问…", or offer a human after two misses."""

    def name(self) -> Text:
        return "action_clarify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        if consecutive_fallbacks(tracker) >= FALLBACKS_BEFORE_HUMAN:
            return [FollowupAction("utter_offer_human")]
        candidates = faq_candidates(tracker, SUGGESTIONS, MIN_SUGGESTION_CONFIDENCE)
        task = task_candidate(tracker, texts.TASKS, MIN_TASK_CONFIDENCE)
        if not candidates and task is None:
            dispatcher.utter_message(response="utter_rephrase")
            return []
        buttons = [{"title": texts.TASKS[task], "payload": f"/{task}"}] if task else []
        buttons += catalogue.question_buttons(candidates)
        buttons.append({"title": texts.NONE_OF_THESE, "payload": "/deny"})
        reply(dispatcher, tracker, texts.DID_YOU_MEAN, buttons)
        return []
