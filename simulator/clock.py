"""The virtual clock: every protocol delay is measured on it.

Virtual time = anchor + (real time elapsed since the anchor) x speed. Freezing sets the speed to 0;
advancing moves the anchor. French working days exclude weekends and public holidays.
"""

from __future__ import annotations

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
        return s.anchor_virtual + (self._real_time() - s.anchor_real) * s.speed

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
        if speed <= 0:
            raise ValueError("speed must be positive (use freeze to stop the clock)")
        with self._lock:
            self._set(self.timestamp(), speed, before_freeze=speed)

    def set_time(self, moment: datetime) -> None:
        """Jump to a moment; only forward, so nothing scheduled is ever skipped backwards."""
        with self._lock:
            if to_timestamp(moment) < self.timestamp():
                raise ValueError("the virtual clock cannot go back in time")
            self._set(to_timestamp(moment), self._state.speed)

    def advance(self, hours: float = 0, working_days: int = 0, seconds: float = 0) -> datetime:
        if hours < 0 or working_days < 0 or seconds < 0:
            raise ValueError("the virtual clock only moves forward")
        with self._lock:
            target = self.calendar.add_working_days(self.now(), working_days)
            target += timedelta(hours=hours, seconds=seconds)
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
