from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from console.domain.business_hours import (
    ALWAYS_OPEN,
    BusinessCalendar,
    CalendarConfig,
    parse_day_hours,
)

OFFICE = {
    "mon": "09:00-17:00",
    "tue": "09:00-17:00",
    "wed": "09:00-17:00",
    "thu": "09:00-17:00",
    "fri": "09:00-17:00",
    "sat": "",
    "sun": "",
}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def office(tz: str = "Europe/London", holidays: tuple[str, ...] = ()) -> BusinessCalendar:
    return CalendarConfig(timezone=tz, hours=OFFICE, holidays=list(holidays)).to_calendar()


def sunday_only(tz: str, hours: str = "00:00-24:00") -> BusinessCalendar:
    return CalendarConfig(timezone=tz, hours={"sun": hours}).to_calendar()


# --- 24/7 -------------------------------------------------------------------------------------------


def test_always_open_equals_wall_clock():
    a, b = utc(2026, 3, 6, 16, 45), utc(2026, 3, 9, 10, 0)
    assert ALWAYS_OPEN.always_open
    assert ALWAYS_OPEN.business_seconds(a, b) == (b - a).total_seconds()
    assert ALWAYS_OPEN.add_business_time(a, timedelta(hours=1)) == utc(2026, 3, 6, 17, 45)
    assert ALWAYS_OPEN.is_open(utc(2026, 3, 7, 3, 0))


def test_config_without_hours_is_24_7():
    assert CalendarConfig(timezone="America/New_York").to_calendar().always_open


# --- weekends and holidays --------------------------------------------------------------------------


def test_friday_1645_plus_one_hour_is_monday_0945_london():
    cal = office()
    # 6 March 2026 is a Friday; London is on GMT (= UTC) then.
    assert cal.add_business_time(utc(2026, 3, 6, 16, 45), timedelta(hours=1)) == utc(2026, 3, 9, 9, 45)
    assert cal.business_seconds(utc(2026, 3, 6, 16, 45), utc(2026, 3, 9, 10, 0)) == 75 * 60


def test_friday_1645_new_york_uses_local_hours():
    cal = office("America/New_York")
    friday_1645_est = utc(2026, 1, 9, 21, 45)  # UTC-5
    assert cal.add_business_time(friday_1645_est, timedelta(hours=1)) == utc(2026, 1, 12, 14, 45)


def test_weekend_has_no_business_time():
    cal = office()
    assert cal.business_seconds(utc(2026, 3, 6, 17, 0), utc(2026, 3, 9, 9, 0)) == 0
    assert not cal.is_open(utc(2026, 3, 7, 12, 0))
    assert cal.is_open(utc(2026, 3, 9, 9, 0))
    assert not cal.is_open(utc(2026, 3, 9, 17, 0))  # closing time is exclusive


def test_holidays_are_skipped():
    cal = office(holidays=("2026-12-25", "2026-12-28"))
    thursday = utc(2026, 12, 24, 16, 30)
    assert cal.add_business_time(thursday, timedelta(hours=1)) == utc(2026, 12, 29, 9, 30)
    assert not cal.is_open(utc(2026, 12, 25, 12, 0))
    assert cal.business_seconds(utc(2026, 12, 24, 9), utc(2026, 12, 30, 9)) == 16 * 3600


def test_split_day_skips_lunch():
    cal = CalendarConfig(timezone="UTC", hours={"mon": "09:00-12:00, 13:00-17:00"}).to_calendar()
    assert cal.add_business_time(utc(2026, 3, 9, 11, 30), timedelta(hours=1)) == utc(2026, 3, 9, 13, 30)
    assert not cal.is_open(utc(2026, 3, 9, 12, 30))


def test_long_durations_roll_over_several_weeks():
    cal = office()
    due = cal.add_business_time(utc(2026, 2, 2, 9), timedelta(hours=80))  # two 40 h weeks
    assert due == utc(2026, 2, 13, 17)


# --- DST ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "day", "hours"),
    [
        ("Europe/London", date(2026, 3, 29), 23),
        ("Europe/London", date(2026, 10, 25), 25),
        ("America/New_York", date(2026, 3, 8), 23),
        ("America/New_York", date(2026, 11, 1), 25),
        ("Europe/London", date(2026, 3, 22), 24),
    ],
)
def test_a_whole_day_lasts_23_or_25_hours_on_dst_sundays(tz, day, hours):
    cal = sunday_only(tz)
    week_start, week_end = day - timedelta(days=3), day + timedelta(days=3)
    span = cal.business_seconds(utc(*week_start.timetuple()[:3]), utc(*week_end.timetuple()[:3]))
    assert span == hours * 3600


def test_office_hours_follow_the_clock_change_london():
    cal = office()
    # Friday 27 March 2026 16:00 GMT; clocks go forward on Sunday 29th; Monday opens 09:00 BST = 08:00 UTC.
    due = cal.add_business_time(utc(2026, 3, 27, 16), timedelta(hours=2))
    assert due == utc(2026, 3, 30, 9)
    assert cal.is_open(utc(2026, 3, 30, 8, 30))
    assert not cal.is_open(utc(2026, 3, 30, 16, 30))  # 17:30 BST


def test_office_hours_follow_the_clock_change_new_york_fall_back():
    cal = office("America/New_York")
    # Friday 30 Oct 2026 16:00 EDT = 20:00 UTC; Monday 2 Nov opens 09:00 EST = 14:00 UTC.
    assert cal.add_business_time(utc(2026, 10, 30, 20), timedelta(hours=2)) == utc(2026, 11, 2, 15)


def test_hours_inside_the_spring_forward_gap():
    # 01:00-03:00 on 29 March 2026 in London: 01:00 does not exist and is read with the GMT offset,
    # so the team is open from 01:00 UTC (02:00 BST) until 03:00 BST (02:00 UTC): one hour.
    cal = sunday_only("Europe/London", "01:00-03:00")
    assert cal.open_intervals(date(2026, 3, 29)) == [(utc(2026, 3, 29, 1), utc(2026, 3, 29, 2))]
    assert cal.business_seconds(utc(2026, 3, 28), utc(2026, 3, 30)) == 3600


def test_hours_in_the_repeated_fall_back_hour():
    # 00:00-01:30 on 25 Oct 2026 in London: 01:30 happens twice; the first occurrence (BST) ends the day.
    cal = sunday_only("Europe/London", "00:00-01:30")
    assert cal.open_intervals(date(2026, 10, 25)) == [(utc(2026, 10, 24, 23), utc(2026, 10, 25, 0, 30))]


ZONES = st.sampled_from(["Europe/London", "America/New_York", "Australia/Sydney", "UTC"])
INSTANTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(tz=ZONES, start=INSTANTS, minutes=st.integers(min_value=0, max_value=60 * 24 * 20))
def test_add_then_measure_round_trips(tz, start, minutes):
    cal = office(tz, holidays=("2026-12-25",))
    due = cal.add_business_time(start, timedelta(minutes=minutes))
    assert due >= start
    assert cal.business_seconds(start, due) == pytest.approx(minutes * 60)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(tz=ZONES, a=INSTANTS, b=INSTANTS, c=INSTANTS)
def test_business_seconds_is_additive_and_bounded(tz, a, b, c):
    a, b, c = sorted([a, b, c])
    cal = office(tz)
    ab, bc = cal.business_seconds(a, b), cal.business_seconds(b, c)
    assert cal.business_seconds(a, c) == pytest.approx(ab + bc)
    assert 0 <= ab <= (b - a).total_seconds()
    assert cal.business_seconds(b, a) == -ab


# --- config and errors --------------------------------------------------------------------------------


def test_parse_day_hours_forms():
    assert parse_day_hours("") == ()
    assert parse_day_hours("closed") == ()
    assert parse_day_hours("24h") == ((0, 1440),)
    assert parse_day_hours("13:00-17:00,09:00-12:00") == ((540, 720), (780, 1020))
    assert parse_day_hours("22:00-24:00") == ((1320, 1440),)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"timezone": "Europe/Lndon"}, "unknown time zone 'Europe/Lndon'"),
        ({"hours": {"mon": "9-17"}}, r"mon: '9-17': expected HH:MM-HH:MM"),
        ({"hours": {"fri": "22:00-02:00"}}, "crosses midnight"),
        ({"hours": {"mon": "09:00-13:00,12:00-17:00"}}, "overlap"),
        ({"hours": {"monday": "09:00-17:00"}}, "'monday' is not a weekday"),
        ({"hours": {"mon": "09:00-25:00"}}, "not a valid time of day"),
        ({"hours": {"sat": "", "sun": ""}}, "no weekday has opening hours"),
        ({"holidays": ["2026-13-01"]}, "holidays"),
        ({"timezone": "UTC", "tz": "UTC"}, "tz"),
    ],
)
def test_bad_config_says_what_is_wrong(config, message):
    with pytest.raises(ValidationError, match=message):
        CalendarConfig(**config)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        ALWAYS_OPEN.business_seconds(datetime(2026, 1, 1), utc(2026, 1, 2))


def test_calendar_that_is_never_open_is_refused():
    with pytest.raises(ValueError, match="never open"):
        BusinessCalendar(tz=ZoneInfo("UTC"), weekly=((),) * 7)


def test_add_gives_up_when_holidays_close_everything():
    only_monday = CalendarConfig(timezone="UTC", hours={"mon": "09:00-17:00"}).to_calendar()
    mondays = frozenset(date(2026, 1, 5) + timedelta(weeks=w) for w in range(200))
    closed = BusinessCalendar(tz=only_monday.tz, weekly=only_monday.weekly, holidays=mondays)
    with pytest.raises(ValueError, match="no open hours"):
        closed.add_business_time(utc(2026, 1, 1), timedelta(hours=1))
