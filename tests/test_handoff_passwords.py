"""Agents' passwords: Argon2id hashes, a yes/no verification that never raises."""
from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from bot.handoff.passwords import dummy_hash, hash_password, needs_rehash, verify_password


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password("正确的密码 correct horse")


def test_hashes_are_salted_argon2id(stored):
    assert stored.startswith("$argon2id$")
    assert "正确的密码" not in stored
    assert hash_password("正确的密码 correct horse") != stored


def test_the_right_password_verifies(stored):
    assert verify_password("正确的密码 correct horse", stored) is True


@pytest.mark.parametrize("attempt", ["正确的密码 correct hors", "正确的密码 Correct horse", "", " "])
def test_a_wrong_password_does_not(stored, attempt):
    assert verify_password(attempt, stored) is False


@pytest.mark.parametrize(
    "broken",
    [
        "",
        "garbage",
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$",  # truncated
        "$argon2id$v=19$m=65536,t=3,p=4$!!!$###",
        "$2b$12$C6UzMDM.H6dfI/f/IKxGhu1ZxQeV8Jm6u7qcT0kGpJNn5a4UOE9qu",  # bcrypt
        "plain-text-password",
        None,
        12345,
    ],
)
def test_a_malformed_hash_is_a_no_not_an_exception(broken):
    assert verify_password("whatever", broken) is False
    if isinstance(broken, str):
        assert needs_rehash(broken) is True


def test_a_non_string_password_is_a_no(stored):
    assert verify_password(None, stored) is False
    assert verify_password(b"bytes", stored) is False


def test_hashes_with_outdated_parameters_need_rehashing(stored):
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw")
    assert needs_rehash(weak) is True
    assert verify_password("pw", weak) is True  # still valid until replaced
    assert needs_rehash(stored) is False


@pytest.mark.parametrize("empty", ["", "   ", None])
def test_empty_passwords_are_refused(empty):
    with pytest.raises(ValueError):
        hash_password(empty)


def test_the_dummy_hash_is_made_once_and_matches_nothing_obvious():
    assert dummy_hash() is dummy_hash()
    assert dummy_hash().startswith("$argon2id$")
    assert not any(verify_password(guess, dummy_hash()) for guess in ["", "password", "123456"])
