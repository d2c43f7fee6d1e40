"""The scoring service's API-token look-ups, kept in the process for a bounded time.

Each answer of the ledger (the token's name, or None: unknown or revoked) is kept for
``service.token_cache_seconds`` under the token's sha256 (the token itself is never held),
so a request with a token seen lately costs no ledger query. The price is the bound: a
revoked token is refused, and a new one accepted, within that many seconds (0: every
request asks the ledger). At most ``max_entries`` answers are held: when full, expired
answers are dropped, and if none has expired the oldest half goes (random wrong tokens
cannot grow the process).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

from shared.ledger.trust import token_hash


class _Miss:
    """No answer held for this token (or an expired one): ask the ledger."""


MISS: Final = _Miss()


class TokenCache:
    """``lookup(token)`` (the ledger's answer) kept ``seconds`` per token's sha256."""

    def __init__(
        self,
        lookup: Callable[[str], str | None],
        seconds: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lookup, self.seconds, self.clock = lookup, seconds, clock
        self.max_entries = max_entries
        self._held: dict[str, tuple[float, str | None]] = {}  # sha256 -> (expires, name)
        self._lock = threading.Lock()

    @staticmethod
    def key(token: str) -> str:
        return token_hash(token)

    def get(self, key: str) -> str | None | _Miss:
        """The held answer for the token with sha256 ``key``, or MISS (none, or expired)."""
        held = self._held.get(key)
        if held is None or self.clock() >= held[0]:
            return MISS
        return held[1]

    def look_up(self, token: str, key: str) -> str | None:
        """Ask the ledger (blocking: the service calls it in its thread pool) and hold the
        answer for ``seconds`` from now."""
        name = self.lookup(token)
        if self.seconds > 0:
            with self._lock:
                if len(self._held) >= self.max_entries:
                    self._make_room()
                self._held[key] = (self.clock() + self.seconds, name)
        return name

    def _make_room(self) -> None:
        now = self.clock()
        live = {k: v for k, v in self._held.items() if v[0] > now}
        if len(live) >= self.max_entries:  # insertion order: the oldest answers first
            live = dict(list(live.items())[len(live) // 2 :])
        self._held = live
