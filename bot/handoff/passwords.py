"""Agents' passwords as Argon2id hashes (argon2-cffi, RFC 9106 parameters).

Only the hash is stored; it carries its own salt and parameters, so raising
the parameters later needs no migration: ``needs_rehash`` tells the login to
store a fresh hash while it still holds the plain password.

``verify_password`` answers a yes or no and never raises, whatever is in the
database: a corrupt or foreign hash must refuse the login, not crash it.
"""
from __future__ import annotations

import secrets
from functools import lru_cache
from typing import Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# Argon2id with argon2-cffi's defaults (RFC 9106 "low memory": t=3, m=64 MiB, p=4).
_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    """A new salted Argon2id hash of ``password`` (refuses an empty one)."""
    if not isinstance(password, str) or not password.strip():
        raise ValueError("a password must not be empty")
    return _HASHER.hash(password)


def verify_password(password: str, password_hash: Optional[str]) -> bool:
    """Whether ``password`` matches ``password_hash``; False for a wrong
    password and for a missing, malformed or non-Argon2 hash."""
    if not isinstance(password, str) or not isinstance(password_hash, str):
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError, ValueError, TypeError):
        # VerifyMismatchError is a VerificationError; InvalidHashError a ValueError.
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's (or is
    not a readable Argon2 hash at all) and should be replaced at next login."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError, TypeError):
        return True


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash nobody knows the password of, made on first use. Verifying
    against it when a username does not exist makes that login cost as much
    as a real one, so timing does not tell which usernames exist."""
    return _HASHER.hash(secrets.token_urlsafe(32))
