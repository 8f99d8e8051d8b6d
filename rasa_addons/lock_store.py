"""Rasa's Redis lock store, made safe for several Rasa processes.

Rasa 3.6's ``RedisLockStore`` issues a ticket by reading the conversation's lock, adding a ticket
and writing it back, with nothing in between to stop another process doing the same: two
messages of one conversation arriving at two processes at the same moment both got ticket 0,
ran at once, and one of them vanished from the tracker (seen in
``tests/integration/test_two_processes.py``). Here every read-modify-write of a lock runs under
a short Redis mutex (``SET NX`` with an expiry, released by token), so tickets are handed out
one at a time across processes.

endpoints.yml: ``lock_store: {type: rasa_addons.lock_store.AtomicRedisLockStore, url: host,
port: 6379, db: 0, key_prefix: kestrel, password: ${...}}``.
"""

from __future__ import annotations

from typing import Any

from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore, RedisLockStore

MUTEX_SECONDS = 5.0  # the longest a critical section may hold the mutex (it takes milliseconds)


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: Any = None, **kwargs: Any) -> None:
        if endpoint_config is not None:  # as Rasa builds a lock store named by its class path
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    def _mutex(self, conversation_id: str) -> Any:
        return self.red.lock(
            f"{self.key_prefix}{conversation_id}:mutex",
            timeout=MUTEX_SECONDS,
            blocking_timeout=MUTEX_SECONDS,
            sleep=0.005,
        )

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            with self._mutex(conversation_id):
                return super().issue_ticket(conversation_id, lock_lifetime)
        except LockError:
            raise
        except Exception as exc:  # the mutex itself could not be had
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def update_lock(self, conversation_id: str) -> None:
        with self._mutex(conversation_id):
            super().update_lock(conversation_id)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        with self._mutex(conversation_id):
            LockStore.finish_serving(self, conversation_id, ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        with self._mutex(conversation_id):  # one critical section: the mutex is not re-entrant
            LockStore.finish_serving(self, conversation_id, ticket_number)
            if not self.is_someone_waiting(conversation_id):
                self.delete_lock(conversation_id)
