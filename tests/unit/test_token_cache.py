"""The service's token look-ups held for a bounded time (shared.trust.token_cache), on a clock
the test moves: a held answer until it expires, refusals held too, 0 holds nothing, the
number of answers bounded."""

from __future__ import annotations

from shared.trust.token_cache import MISS, TokenCache


class Ledger:
    """Stands in for TrustRecords.token_name: one active token, every call counted."""

    def __init__(self) -> None:
        self.calls = 0
        self.active = {"rk_good": "ops"}

    def token_name(self, token: str) -> str | None:
        self.calls += 1
        return self.active.get(token)


def ask(cache: TokenCache, token: str) -> str | None:
    key = cache.key(token)
    held = cache.get(key)
    return cache.look_up(token, key) if held is MISS else held  # type: ignore[return-value]


def test_an_answer_is_held_until_it_expires_then_asked_again() -> None:
    now, ledger = [100.0], Ledger()
    cache = TokenCache(ledger.token_name, 5, clock=lambda: now[0])
    assert [ask(cache, "rk_good") for _ in range(10)] == ["ops"] * 10
    assert ledger.calls == 1
    del ledger.active["rk_good"]  # revoked
    now[0] += 4.9
    assert ask(cache, "rk_good") == "ops"  # within the bound: still held
    now[0] += 0.1
    assert ask(cache, "rk_good") is None and ledger.calls == 2  # at the bound: refused
    assert [ask(cache, "rk_wrong") for _ in range(10)] == [None] * 10
    assert ledger.calls == 3  # a refusal is held as well
    assert "rk_good" not in str(cache._held)  # only the sha256 is held


def test_zero_seconds_asks_every_time_and_the_size_is_bounded() -> None:
    ledger = Ledger()
    cache = TokenCache(ledger.token_name, 0)
    assert [ask(cache, "rk_good") for _ in range(3)] == ["ops"] * 3 and ledger.calls == 3
    cache = TokenCache(ledger.token_name, 60, max_entries=100)
    for i in range(1000):
        ask(cache, f"rk_{i}")
    assert len(cache._held) <= 100
    assert cache.get(cache.key("rk_999")) is None  # the newest answers stay
