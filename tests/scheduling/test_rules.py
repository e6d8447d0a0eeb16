"""Schedule rules: every kind, DST transitions, RRULE parsing and the errors an admin sees."""
from datetime import date, datetime

import pytest

from app.scheduling.calendar import month_calendars
from app.scheduling.rules import RuleError, RuleSpec, build_rule, next_after, occurrences_between, preview


def utc_occurrences(spec, start, end):
    return occurrences_between(build_rule(spec), start, end)


def test_daily_keeps_wall_clock_time_across_amsterdam_spring_and_autumn():
    spec = RuleSpec("daily", "Europe/Amsterdam", datetime(2026, 3, 28, 9, 0))
    spring = utc_occurrences(spec, datetime(2026, 3, 28), datetime(2026, 3, 30, 12))
    assert spring == [datetime(2026, 3, 28, 8), datetime(2026, 3, 29, 7), datetime(2026, 3, 30, 7)]
    autumn_spec = RuleSpec("daily", "Europe/Amsterdam", datetime(2026, 10, 24, 9, 0))
    autumn = utc_occurrences(autumn_spec, datetime(2026, 10, 24), datetime(2026, 10, 26, 12))
    assert autumn == [datetime(2026, 10, 24, 7), datetime(2026, 10, 25, 8), datetime(2026, 10, 26, 8)]


def test_new_york_dst_and_a_time_inside_the_spring_gap():
    spec = RuleSpec("daily", "America/New_York", datetime(2026, 3, 7, 2, 30))
    got = utc_occurrences(spec, datetime(2026, 3, 7), datetime(2026, 3, 9, 12))
    # 02:30 does not exist on 8 March (clocks jump 02:00 -> 03:00): sent at 03:30 EDT = 07:30 UTC
    assert got == [datetime(2026, 3, 7, 7, 30), datetime(2026, 3, 8, 7, 30), datetime(2026, 3, 9, 6, 30)]
    autumn = RuleSpec("weekly", "America/New_York", datetime(2026, 10, 26, 17, 0), weekdays=(0,))
    got = utc_occurrences(autumn, datetime(2026, 10, 26), datetime(2026, 11, 3))
    assert got == [datetime(2026, 10, 26, 21), datetime(2026, 11, 2, 22)]


def test_every_other_week_on_tuesday_and_friday():
    spec = RuleSpec("weekly", "UTC", datetime(2026, 11, 23, 10), interval=2, weekdays=(1, 4))
    assert [d.date() for d in preview(spec, datetime(2026, 11, 23), 4)] == [
        date(2026, 11, 24), date(2026, 11, 27), date(2026, 12, 8), date(2026, 12, 11)]


def test_monthly_on_a_day_with_count_and_until():
    spec = RuleSpec("monthly", "UTC", datetime(2026, 1, 31, 8), month_day=31, count=3)
    assert [d.date() for d in preview(spec, datetime(2026, 1, 1))] == [
        date(2026, 1, 31), date(2026, 3, 31), date(2026, 5, 31)]
    until = RuleSpec("daily", "UTC", datetime(2026, 1, 1, 8), interval=3, until=date(2026, 1, 7))
    assert len(preview(until, datetime(2025, 12, 1))) == 3


def test_advanced_rrule_second_tuesday_with_dtstart_and_count():
    spec = RuleSpec("rrule", "Europe/Amsterdam", None,
                    rrule_text="DTSTART:20261101T090000\nRRULE:FREQ=MONTHLY;BYDAY=2TU;COUNT=3")
    assert preview(spec, datetime(2026, 10, 1)) == [
        datetime(2026, 11, 10, 9), datetime(2026, 12, 8, 9), datetime(2027, 1, 12, 9)]
    short = RuleSpec("rrule", "UTC", datetime(2026, 1, 1, 12), rrule_text="FREQ=MONTHLY;BYDAY=2TU")
    assert preview(short, datetime(2026, 1, 1), 1) == [datetime(2026, 1, 13, 12)]


@pytest.mark.parametrize("spec, field, message", [
    (RuleSpec("rrule", "UTC", datetime(2026, 1, 1), rrule_text="FREQ=SOMETIMES"), "rrule_text", "not a valid"),
    (RuleSpec("rrule", "UTC", datetime(2026, 1, 1), rrule_text=""), "rrule_text", "Enter an RRULE"),
    (RuleSpec("once", "UTC", datetime(2020, 1, 1, 9)), "start", "no occurrence in the future"),
    (RuleSpec("daily", "Mars/Olympus", datetime(2030, 1, 1, 9)), "timezone", "Unknown time zone"),
    (RuleSpec("weekly", "UTC", datetime(2030, 1, 1, 9)), "weekdays", "at least one weekday"),
    (RuleSpec("daily", "UTC", datetime(2030, 1, 5, 9), until=date(2030, 1, 1)), "until", "before"),
    (RuleSpec("daily", "UTC", datetime(2030, 1, 5, 9), interval=0), "interval", "between 1"),
])
def test_bad_rules_name_the_field_and_say_what_is_wrong(spec, field, message):
    with pytest.raises(RuleError, match=message) as caught:
        preview(spec, datetime(2026, 11, 23))
    assert caught.value.field == field


def test_next_after_and_calendar_marks():
    spec = RuleSpec("weekly", "UTC", datetime(2026, 11, 2, 9), weekdays=(0, 2))
    rule = build_rule(spec)
    assert next_after(rule, datetime(2026, 11, 2, 9)) == datetime(2026, 11, 4, 9)
    months = month_calendars(preview(spec, datetime(2026, 11, 1), 4))
    assert months[0].title == "November 2026"
    marked = [day.day for week in months[0].weeks for day, inside, mark in week if inside and mark]
    assert marked == [2, 4, 9, 11]
