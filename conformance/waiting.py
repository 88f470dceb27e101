"""Waiting on something that happens in another process (a file in OUT, a journal line, a process gone): the
one way the harness, the tests and the benchmarks poll.

`wait_until` fails with the reason when the time is up; `poll_until` hands back the last value, for a caller
that judges it itself. Both ask first, then sleep: a condition that already holds costs no sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """What was awaited did not happen in time; the message says what it was and, if given, the last state."""


def poll_until(probe: Callable[[], T], timeout: float, every: float = 0.05) -> T:
    """Call `probe` until it returns a true value or `timeout` real seconds have passed; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(every)


def wait_until(probe: Callable[[], T], timeout: float, what: str, every: float = 0.05,
               state: Callable[[], object] | None = None) -> T:
    """Call `probe` until it returns a true value, and return it; after `timeout` real seconds, `WaitTimeout`
    saying `what` did not happen (and `state()`, when given: what there was instead)."""
    value = poll_until(probe, timeout, every)
    if not value:
        detail = f" ({state()})" if state is not None else ""
        raise WaitTimeout(f"{what}: not within {timeout:g} s{detail}")
    return value
