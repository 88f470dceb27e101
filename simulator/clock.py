"""The virtual clock: every protocol delay is measured on it.

Virtual time = anchor + (real time elapsed since the anchor) x speed. Freezing sets the speed to 0;
advancing moves the anchor. French working days exclude weekends and public holidays.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays

# The protocols' dates and times carry no zone: they are French civil time, whatever the host's zone.
PARIS = ZoneInfo("Europe/Paris")

# Bounds of the clock, so no call can push it where datetime overflows (a data dir must stay usable).
MIN_SPEED = 0.01  # slower than this is a freeze
MAX_SPEED = 10_000.0  # one real second is under three virtual hours
MAX_ADVANCE_SECONDS = 5 * 366 * 86400  # one advance moves at most about five years...
MAX_ADVANCE_WORKING_DAYS = 1_300  # ...or five years of working days
MIN_TIMESTAMP = 0.0  # 1970: protocol dates are recent
MAX_TIMESTAMP = 32_503_680_000.0  # 3000-01-01 UTC, far from datetime's year 9999 even with protocol delays


def to_timestamp(moment: datetime) -> float:
    """A protocol (naive, French civil) time as a POSIX timestamp."""
    return moment.replace(tzinfo=PARIS).timestamp() if moment.tzinfo is None else moment.timestamp()


def from_timestamp(timestamp: float) -> datetime:
    """A POSIX timestamp as a protocol (naive, French civil) time."""
    return datetime.fromtimestamp(timestamp, PARIS).replace(tzinfo=None)


class FrenchCalendar:
    """Working days in metropolitan France (Monday to Friday, public holidays excluded)."""

    def __init__(self) -> None:
        self._holidays = holidays.country_holidays("FR")

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays

    def add_working_days(self, moment: datetime, days: int) -> datetime:
        """The same time of day, `days` working days later (from a day off, counting starts next day)."""
        result = moment
        remaining = days
        while remaining > 0:
            result += timedelta(days=1)
            if self.is_working_day(result.date()):
                remaining -= 1
        return result

    def holiday_name(self, day: date) -> str | None:
        return self._holidays.get(day)


_DURATION = re.compile(
    r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>working days?|wd|days?|d|hours?|h|minutes?|min|m|seconds?|s)\s*$")


@dataclass(frozen=True)
class Delay:
    """A protocol delay: some working days plus some plain time."""

    working_days: int = 0
    seconds: float = 0.0

    @classmethod
    def parse(cls, text: str | int | float) -> Delay:
        """'1 working day', '2 wd', '4 hours', '30 min', '0'; a bare number means working days."""
        if isinstance(text, int | float):
            return cls(working_days=int(text))
        if text.strip() in ("", "0"):
            return cls()
        m = _DURATION.match(text.lower())
        if not m:
            raise ValueError(f"not a delay: {text!r} (e.g. '1 working day', '4 hours')")
        n, unit = float(m["n"]), m["unit"]
        if unit.startswith("w"):
            return cls(working_days=int(n))
        factor = {"d": 86400, "h": 3600, "m": 60, "s": 1}[unit[0]]
        return cls(seconds=n * factor)

    def after(self, moment: datetime, calendar: FrenchCalendar) -> datetime:
        return calendar.add_working_days(moment, self.working_days) + timedelta(seconds=self.seconds)


@dataclass(frozen=True)
class ClockState:
    """What is persisted: the virtual time at a real instant, and the speed since then."""

    anchor_virtual: float
    anchor_real: float
    speed: float
    speed_before_freeze: float = 1.0


class VirtualClock:
    """Thread-safe virtual clock; `on_change` persists each new state."""

    def __init__(self, state: ClockState | None = None, calendar: FrenchCalendar | None = None,
                 on_change: Callable[[ClockState], None] | None = None,
                 real_time: Callable[[], float] = time.time):
        self._real_time = real_time
        now = real_time()
        self._state = state or ClockState(anchor_virtual=now, anchor_real=now, speed=1.0)
        self.calendar = calendar or FrenchCalendar()
        self._on_change = on_change
        self._lock = threading.Lock()

    @property
    def state(self) -> ClockState:
        return self._state

    def timestamp(self) -> float:
        s = self._state
        # Capped: a clock left running fast for ages stops at the bound instead of overflowing datetime.
        return min(s.anchor_virtual + (self._real_time() - s.anchor_real) * s.speed, MAX_TIMESTAMP)

    def now(self) -> datetime:
        """Naive French civil time, as the protocols' dates."""
        return from_timestamp(self.timestamp())

    @property
    def frozen(self) -> bool:
        return self._state.speed == 0

    @property
    def speed(self) -> float:
        return self._state.speed

    def _set(self, virtual: float, speed: float, before_freeze: float | None = None) -> None:
        previous = self._state
        self._state = ClockState(virtual, self._real_time(), speed,
                                 previous.speed_before_freeze if before_freeze is None else before_freeze)
        if self._on_change:
            self._on_change(self._state)

    def freeze(self) -> None:
        with self._lock:
            if not self.frozen:
                self._set(self.timestamp(), 0.0, before_freeze=self._state.speed)

    def resume(self) -> None:
        with self._lock:
            if self.frozen:
                self._set(self.timestamp(), self._state.speed_before_freeze or 1.0)

    def set_speed(self, speed: float) -> None:
        if not _number(speed) or not MIN_SPEED <= speed <= MAX_SPEED:
            raise ValueError(f"speed must be a number from {MIN_SPEED} to {MAX_SPEED:g} (use freeze to stop the clock)")
        with self._lock:
            self._set(self.timestamp(), speed, before_freeze=speed)

    def set_time(self, moment: datetime) -> None:
        """Jump to a moment; only forward, so nothing scheduled is ever skipped backwards."""
        with self._lock:
            if to_timestamp(moment) < self.timestamp():
                raise ValueError("the virtual clock cannot go back in time")
            if to_timestamp(moment) > MAX_TIMESTAMP:
                raise ValueError(f"the virtual clock stops at {from_timestamp(MAX_TIMESTAMP):%Y-%m-%d}")
            self._set(to_timestamp(moment), self._state.speed)

    def advance(self, hours: float = 0, working_days: int = 0, seconds: float = 0) -> datetime:
        if not (_number(hours) and _number(seconds) and isinstance(working_days, int)
                and not isinstance(working_days, bool)):
            raise ValueError("hours and seconds are finite numbers, working_days an integer")
        if hours < 0 or working_days < 0 or seconds < 0:
            raise ValueError("the virtual clock only moves forward")
        if hours * 3600 + seconds > MAX_ADVANCE_SECONDS or working_days > MAX_ADVANCE_WORKING_DAYS:
            raise ValueError(f"one advance moves at most {MAX_ADVANCE_SECONDS // 3600} hours and "
                             f"{MAX_ADVANCE_WORKING_DAYS} working days")
        with self._lock:
            target = self.calendar.add_working_days(self.now(), working_days)
            target += timedelta(hours=hours, seconds=seconds)
            if to_timestamp(target) > MAX_TIMESTAMP:
                raise ValueError(f"the virtual clock stops at {from_timestamp(MAX_TIMESTAMP):%Y-%m-%d}")
            self._set(to_timestamp(target), self._state.speed)
            return target

    def describe(self) -> dict:
        now = self.now()
        return {
            "now": now.isoformat(timespec="seconds"),
            "frozen": self.frozen,
            "speed": self.speed,
            "working_day": self.calendar.is_working_day(now.date()),
            "holiday": self.calendar.holiday_name(now.date()),
        }


def _number(value: object) -> bool:
    """A finite int or float, not a bool (True is an int to Python, not a duration to a user)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def restore_state(stored: str, real_now: float, fallback_virtual: float) -> tuple[ClockState, str | None]:
    """The clock state read from a data dir, made usable: (state, what was repaired or None).

    An old bug stored an infinite speed, after which every start failed with OverflowError; whatever
    is stored, the sandbox must start. A bad state is kept at its last sane virtual time (the anchor),
    frozen, so nothing scheduled fires by surprise; `fallback_virtual` is used when the anchor is bad too.
    """
    try:
        raw = json.loads(stored)
        if not isinstance(raw, dict):
            raise ValueError("not an object")
        anchor_virtual, anchor_real, speed = raw["anchor_virtual"], raw["anchor_real"], raw["speed"]
        before = raw.get("speed_before_freeze", 1.0)
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        return ClockState(fallback_virtual, real_now, 0.0), f"unreadable clock state ({e}): frozen at a default time"
    sane_before = before if _number(before) and MIN_SPEED <= before <= MAX_SPEED else 1.0
    if not (_number(anchor_virtual) and MIN_TIMESTAMP <= anchor_virtual <= MAX_TIMESTAMP):
        return (ClockState(fallback_virtual, real_now, 0.0, sane_before),
                f"clock anchor {anchor_virtual!r} out of range: frozen at a default time")
    if not _number(anchor_real) or abs(anchor_real - real_now) > 1000 * 366 * 86400:
        return ClockState(anchor_virtual, real_now, 0.0, sane_before), "clock real anchor out of range: frozen"
    if not (_number(speed) and (speed == 0 or MIN_SPEED <= speed <= MAX_SPEED)):
        return (ClockState(anchor_virtual, real_now, 0.0, sane_before),
                f"clock speed {speed!r} out of range: frozen at its last time")
    now = anchor_virtual + (real_now - anchor_real) * speed
    if not MIN_TIMESTAMP <= now <= MAX_TIMESTAMP:
        return ClockState(anchor_virtual, real_now, 0.0, sane_before), "clock ran out of range: frozen at its last time"
    repaired = None if sane_before == before else f"speed before freeze {before!r} out of range: 1.0"
    return ClockState(float(anchor_virtual), float(anchor_real), float(speed), float(sane_before)), repaired
