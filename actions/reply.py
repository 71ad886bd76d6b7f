"""Send text and buttons to the customer in the script they write in."""
from __future__ import annotations

from typing import List, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import script_of
from bot.script import message_in_script


def reply(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    text: str,
    buttons: Optional[List[dict]] = None,
) -> None:
    message = message_in_script({"text": text, "buttons": buttons or []}, script_of(tracker))
    dispatcher.utter_message(text=message["text"], buttons=message["buttons"])
