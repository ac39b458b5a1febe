"""A token verified once is not parsed again for a while, and never past its exp
(rescue_chassis.auth.RecentlyVerified)."""

from __future__ import annotations

import pytest

from rescue_chassis.auth import Principal, RecentlyVerified
from rescue_chassis.problems import Problem


class CountingVerifier:
    def __init__(self, expires_at: float | None = 10_000.0) -> None:
        self.calls: list[str] = []
        self.expires_at = expires_at

    async def verify(self, token: str) -> Principal:
        self.calls.append(token)
        if token.startswith("bad"):
            raise Problem(401, "Invalid token", "signature")
        return Principal("wang.li", "gushi", frozenset({"station_staff"}), self.expires_at)


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_the_same_token_is_checked_once_within_the_window():
    inner, clock = CountingVerifier(), Clock()
    tokens = RecentlyVerified(inner, max_age=60, clock=clock)
    first = await tokens.verify("t1")
    clock.now += 59
    assert await tokens.verify("t1") == first
    assert inner.calls == ["t1"]
    clock.now += 2  # the window is over: checked again
    await tokens.verify("t1")
    assert inner.calls == ["t1", "t1"]


async def test_a_token_is_never_trusted_past_its_own_expiry():
    inner, clock = CountingVerifier(expires_at=1_010.0), Clock(1_000.0)
    tokens = RecentlyVerified(inner, max_age=60, clock=clock)
    await tokens.verify("t1")
    clock.now = 1_010.0
    await tokens.verify("t1")  # expired by now: back to the real check (which decides)
    assert inner.calls == ["t1", "t1"]


async def test_a_rejected_token_is_not_remembered():
    inner = CountingVerifier()
    tokens = RecentlyVerified(inner, clock=Clock())
    for _ in range(2):
        with pytest.raises(Problem):
            await tokens.verify("bad-signature")
    assert inner.calls == ["bad-signature", "bad-signature"]


async def test_it_keeps_at_most_max_tokens_dropping_the_oldest():
    inner = CountingVerifier()
    tokens = RecentlyVerified(inner, max_tokens=2, clock=Clock())
    for token in ("a", "b", "c", "c", "b", "a"):
        await tokens.verify(token)
    assert inner.calls == ["a", "b", "c", "a"]  # "a" was dropped when "c" came
