"""Rasa's Redis lock store, made safe for several Rasa replicas.

Rasa serialises the messages of one conversation with a ticket lock: each
message draws a ticket, waits until its number is served, and hands the lock
on when done. ``rasa.core.lock_store.RedisLockStore`` keeps that lock as one
JSON value and changes it by read-modify-write (GET, change, SET). Inside one
process that is safe (the calls do not yield to the event loop); between
replicas it is not: two replicas drawing at the same moment can both read
ticket 3 and both be served at once, interleaving two turns of one
conversation, and a replica finishing a turn can DELETE the lock a moment
after another replica drew a ticket from it, which then fails with
"Could not acquire lock". This store does every change as a Redis
optimistic transaction (WATCH the key, read, MULTI, write, EXEC; retried when
another replica changed the key in between), so each change sees and keeps
every other.

Endpoints (bot.scaleout writes them)::

    lock_store:
      type: bot.lock_store.AtomicRedisLockStore
      url: 127.0.0.1
      port: 6379
      key_prefix: jrkf
"""
from __future__ import annotations

import json
from typing import Callable, Optional, Text, Tuple, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

Result = TypeVar("Result")
# A change of the lock: the lock as stored (None: there is none) to the lock
# to store (None: delete it) and what the caller gets back.
Change = Callable[[Optional[TicketLock]], Tuple[Optional[TicketLock], Result]]


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig) -> None:
        # Rasa builds a custom lock store from its endpoint section.
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)

    def _atomically(self, conversation_id: Text, change: Change) -> Result:
        import redis

        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    stored = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(stored)) if stored else None
                    changed, result = change(lock)
                    pipe.multi()
                    if changed is None:
                        pipe.delete(key)
                    else:
                        pipe.set(key, changed.dumps())
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another replica changed the lock: read it again

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def draw(lock: Optional[TicketLock]) -> Tuple[TicketLock, int]:
            lock = lock or TicketLock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._atomically(conversation_id, draw)
        except Exception as error:  # as Rasa's own store reports it
            raise LockError(f"Error while acquiring lock. Error:\n{error}")

    def update_lock(self, conversation_id: Text) -> None:
        def drop_expired(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._atomically(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        self.cleanup(conversation_id, ticket_number)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Hand the lock on; delete it only if, in the same transaction, no
        other ticket is waiting."""
        def hand_on(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._atomically(conversation_id, hand_on)
