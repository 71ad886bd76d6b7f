"""`rasa run` with two changes to Rasa's ``RemoteAction`` and five speed-ups:
a custom action the action server cannot run makes the bot apologise
instead of going silent; the action server's answers are validated without
re-checking the schema itself every time; event types are looked up once;
repeated messages reuse their NLU parse (``bot.parse_cache``); the policies'
states of a conversation's past turns are kept (``bot.policy_states``); the
in-memory tracker store keeps recent trackers as objects (``bot.tracker_store``).

    python -m bot.rasa_server run --model models/bot.tar.gz ...   # rasa's CLI

Rasa 3.6 logs a failed custom action and carries on without a word to the
customer, and it offers no setting to change that. So, before handing over to
Rasa's own command line, this module replaces ``RemoteAction`` (where Rasa
looks it up: the action registry and the form's validation) with a subclass
that turns "action server unreachable or failing" into a short apology in the
customer's script. FAQ answers are Rasa's own responses, so they keep working
while the action server is down; actions that only add extras (related
questions, 猜你想问) fail quietly rather than apologise after a good answer.
A form's rejection (``ActionExecutionRejection``) is not a failure and passes
through untouched. `bot.launch` and the tests start Rasa through this module.

Validation: Rasa calls ``jsonschema.validate(result, spec)`` on every answer
of the action server, and with jsonschema 4.17 that first checks ``spec``
against the 2020-12 metaschema: 84 ms per custom action on this machine,
about 60% of the Rasa server's time under load (py-spy, ``python -m
bot.bench --profile``), against 0.8 ms with a validator built once. The same
checks, in the same order, with the same error, run on a validator built on
first use.
"""
from __future__ import annotations

import logging
import sys
from functools import lru_cache
from typing import Any, List

from bot import parse_cache, policy_states
from bot.script import customer_script, in_script

logger = logging.getLogger(__name__)

UNAVAILABLE = "抱歉，查询和预约服务暂时不可用，请稍后再试。其他问题可以继续问我，或回复“转人工”。"
# Actions whose failure costs the customer nothing they asked for.
QUIET_WHEN_FAILING = frozenset({"action_faq_followup", "action_featured_questions"})


def apologising_remote_action():
    """RemoteAction's subclass; built lazily so importing this module is cheap."""
    from rasa.core.actions import action as rasa_actions
    from rasa.shared.constants import DOCS_BASE_URL
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.core.events import BotUttered, FollowupAction, UserUttered
    from rasa.shared.exceptions import RasaException

    class ApologisingRemoteAction(rasa_actions.RemoteAction):
        async def run(self, output_channel, nlg, tracker, domain) -> List[Any]:
            try:
                return await super().run(output_channel, nlg, tracker, domain)
            except rasa_actions.ActionExecutionRejection:
                raise
            except RasaException:
                logger.exception("custom action %s failed", self.name())
                if self.name() in QUIET_WHEN_FAILING:
                    return []
                # Apologise once and end the turn: otherwise the policies
                # predict the next custom action (the core fallback, say),
                # which fails too, and the customer hears the apology up to
                # Rasa's limit of ten actions per turn.
                texts = (e.text for e in reversed(tracker.events) if isinstance(e, UserUttered))
                return [
                    BotUttered(text=in_script(UNAVAILABLE, customer_script(texts))),
                    FollowupAction(ACTION_LISTEN_NAME),
                ]

        def _validate_action_result(self, result) -> bool:
            from jsonschema.exceptions import best_match

            error = best_match(_response_validator().iter_errors(result))
            if error is not None:
                error.message += (  # Rasa's own addition to the message
                    ". Failed to validate Action server response from API, "
                    "make sure your response from the Action endpoint is valid. "
                    f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
                )
                raise error
            return True

    return ApologisingRemoteAction


@lru_cache(maxsize=None)
def _response_validator():
    """jsonschema.validate's checks, done once: Rasa's response schema against
    its metaschema, then a validator of its draft."""
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    spec = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(spec)
    validator_class.check_schema(spec)
    return validator_class(spec)


def cache_event_types() -> None:
    """Rasa reads every stored event back by looking its type name up among
    all subclasses of ``Event``, walked afresh for each event: 8% of the
    server's time at 10 concurrent conversations (py-spy). Names found once
    are remembered; unknown names still go to Rasa's lookup."""
    from rasa.shared.core.events import Event

    resolve = Event.resolve_by_type
    known = {}

    def resolve_by_type(type_name, default=None):
        found = known.get(type_name)
        if found is None:
            found = resolve(type_name, default)
            if found is not None and found is not default:
                known[type_name] = found
        return found

    Event.resolve_by_type = staticmethod(resolve_by_type)


def install() -> None:
    from rasa.core.actions import action as rasa_actions, forms as rasa_forms

    replacement = apologising_remote_action()
    rasa_actions.RemoteAction = replacement
    rasa_forms.RemoteAction = replacement
    cache_event_types()
    parse_cache.install()
    policy_states.install()
    from bot import tracker_store  # imports Rasa's tracker stores

    tracker_store.install()


def main() -> None:
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
