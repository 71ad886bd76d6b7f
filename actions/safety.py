"""No stack trace ever reaches a customer: an action that fails (the database
is down, a bug) logs the error and apologises instead of going silent."""
from __future__ import annotations

import functools
import logging
from abc import ABC, abstractmethod
from typing import Any, Awaitable, Callable, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions import texts
from actions.reply import reply

logger = logging.getLogger(__name__)

Run = Callable[..., Awaitable[List[Dict[str, Any]]]]


def politely(run: Run) -> Run:
    """Wrap an action's ``run``: on any exception, nothing it did is kept (its
    unit of work rolled back), the customer gets a polite apology, and the
    error is logged with the action's name (never the customer's message)."""

    @functools.wraps(run)
    async def guarded(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List:
        try:
            return await run(self, dispatcher, tracker, domain)
        except Exception:
            logger.exception("action %s failed", self.name())
            dispatcher.messages.clear()
            reply(dispatcher, tracker, texts.SERVICE_UNAVAILABLE)
            return []

    return guarded


class PoliteFormValidationAction(FormValidationAction, ABC):
    """A form's validation action whose failures apologise like any action's.
    Abstract (no name), so the action server does not register it itself."""

    @abstractmethod
    def name(self) -> Text:
        ...

    @politely
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List:
        return await super().run(dispatcher, tracker, domain)
