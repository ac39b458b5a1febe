"""Events the evidence part of search reacts to."""

from __future__ import annotations

from rescue_chassis.runtime import Runtime


def handlers(runtime: Runtime) -> dict:
    return {}
