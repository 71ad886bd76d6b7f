"""bot.rasa_server's changes to Rasa, without a server: the action server's
answers are validated as Rasa validates them, and event types resolve as
Rasa resolves them."""
from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_server import apologising_remote_action, cache_event_types

GOOD = {"events": [{"event": "slot", "name": "a", "value": 1}], "responses": [{"text": "您好"}]}
BAD = [{"events": "not a list"}, {"events": [{"name": "no event key"}]}, {"responses": {"text": 1}}]


@pytest.fixture(scope="module")
def actions():
    endpoint = EndpointConfig("http://127.0.0.1:1/webhook")
    return apologising_remote_action()("action_x", endpoint), RemoteAction("action_x", endpoint)


def test_a_valid_answer_passes_both(actions):
    ours, rasas = actions
    assert ours._validate_action_result(GOOD) and rasas._validate_action_result(GOOD)


@pytest.mark.parametrize("answer", BAD)
def test_an_invalid_answer_fails_with_rasas_error(actions, answer):
    ours, rasas = actions
    with pytest.raises(jsonschema.ValidationError) as expected:
        rasas._validate_action_result(answer)
    with pytest.raises(jsonschema.ValidationError) as got:
        ours._validate_action_result(answer)
    assert got.value.message == expected.value.message


def test_event_types_resolve_as_before():
    cache_event_types()
    for event in [UserUttered("你好", {"name": "greet", "confidence": 1.0}),
                  ActionExecuted("action_listen"), SlotSet("a", 1)]:
        assert Event.from_parameters(event.as_dict()) == event
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError):
        Event.resolve_by_type("no_such_event")
