"""The virtual clock: French working days, freeze, advance, speed, persistence of its state."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from simulator.clock import ClockState, Delay, FrenchCalendar, VirtualClock, from_timestamp, to_timestamp

CAL = FrenchCalendar()


class FakeTime:
    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_working_days_skip_weekends_and_french_holidays():
    assert CAL.is_working_day(date(2026, 11, 24))
    assert not CAL.is_working_day(date(2026, 11, 28))  # Saturday
    assert not CAL.is_working_day(date(2026, 12, 25))  # Noël
    assert not CAL.is_working_day(date(2026, 5, 14))  # Ascension 2026
    friday = datetime(2026, 11, 27, 16, 30)
    assert CAL.add_working_days(friday, 1) == datetime(2026, 11, 30, 16, 30)
    assert CAL.add_working_days(datetime(2026, 12, 24, 9), 1) == datetime(2026, 12, 28, 9)
    assert CAL.add_working_days(datetime(2026, 11, 24, 9), 0) == datetime(2026, 11, 24, 9)


@pytest.mark.parametrize("text, expected", [
    ("1 working day", Delay(working_days=1)), ("2 wd", Delay(working_days=2)), ("4 hours", Delay(seconds=14400)),
    ("30 min", Delay(seconds=1800)), ("0", Delay()), (3, Delay(working_days=3)),
])
def test_delays_parse(text, expected):
    assert Delay.parse(text) == expected


def test_bad_delay_is_refused_with_the_text():
    with pytest.raises(ValueError, match="fortnight"):
        Delay.parse("1 fortnight")


def test_real_time_runs_and_freeze_stops_it():
    real = FakeTime()
    clock = VirtualClock(ClockState(anchor_virtual=real.t, anchor_real=real.t, speed=1.0), real_time=real)
    real.t += 10
    assert clock.timestamp() == pytest.approx(1_000_010)
    clock.freeze()
    real.t += 100
    assert clock.timestamp() == pytest.approx(1_000_010)
    clock.resume()
    real.t += 5
    assert clock.timestamp() == pytest.approx(1_000_015)


def test_acceleration_and_advance():
    real = FakeTime()
    clock = VirtualClock(ClockState(to_timestamp(datetime(2026, 11, 24, 10)), real.t, 1.0), real_time=real)
    clock.set_speed(60)
    real.t += 60
    assert clock.now() == datetime(2026, 11, 24, 11)
    clock.freeze()
    assert clock.advance(working_days=3) == datetime(2026, 11, 27, 11)
    assert clock.advance(hours=2) == datetime(2026, 11, 27, 13)
    with pytest.raises(ValueError):
        clock.advance(hours=-1)
    with pytest.raises(ValueError):
        clock.set_time(datetime(2026, 1, 1))


def test_protocol_time_is_french_civil_time_whatever_the_host_zone():
    assert from_timestamp(to_timestamp(datetime(2026, 11, 24, 10))) == datetime(2026, 11, 24, 10)
    assert to_timestamp(datetime(2026, 11, 24, 10)) == datetime(2026, 11, 24, 9, tzinfo=UTC).timestamp()
    assert to_timestamp(datetime(2026, 7, 1, 10)) == datetime(2026, 7, 1, 8, tzinfo=UTC).timestamp()


def test_every_change_is_handed_to_the_persister():
    saved: list[ClockState] = []
    clock = VirtualClock(on_change=saved.append)
    clock.freeze()
    clock.advance(hours=1)
    restored = VirtualClock(saved[-1])
    assert restored.frozen and restored.timestamp() == pytest.approx(clock.timestamp())
