"""Every RFC 5545 form an admin may paste is read right (TZID, Z, floating, several lines) or refused."""
from datetime import datetime

import pytest

from app.scheduling.rules import RuleError, RuleSpec, build_rule, occurrences_between, preview

NOW = datetime(2029, 12, 1)


def rule(text, zone="Europe/Amsterdam", start=None):
    return RuleSpec("rrule", zone, start, rrule_text=text)


def utc_sends(spec, limit=4):
    return occurrences_between(build_rule(spec), NOW, datetime(2100, 1, 1))[:limit]


def test_tzid_dtstart_runs_in_that_zone_whatever_the_schedules_zone():
    text = "DTSTART;TZID=America/New_York:20300105T090000\nRRULE:FREQ=DAILY;COUNT=3"
    # 09:00 in New York is 14:00 UTC, 15:00 in Amsterdam (the schedule's zone, for display)
    assert utc_sends(rule(text)) == [datetime(2030, 1, 5, 14), datetime(2030, 1, 6, 14),
                                     datetime(2030, 1, 7, 14)]
    assert preview(rule(text), NOW) == [datetime(2030, 1, 5, 15), datetime(2030, 1, 6, 15),
                                        datetime(2030, 1, 7, 15)]
    # and it keeps 09:00 New York time across New York's spring change (10 March 2030)
    spring = "DTSTART;TZID=America/New_York:20300309T090000\nRRULE:FREQ=DAILY;COUNT=2"
    assert utc_sends(rule(spring)) == [datetime(2030, 3, 9, 14), datetime(2030, 3, 10, 13)]


def test_utc_z_dtstart_keeps_its_z():
    text = "DTSTART:20300105T090000Z\nRRULE:FREQ=DAILY;COUNT=2"
    assert utc_sends(rule(text)) == [datetime(2030, 1, 5, 9), datetime(2030, 1, 6, 9)]
    assert preview(rule(text), NOW)[0] == datetime(2030, 1, 5, 10)  # 10:00 in Amsterdam


def test_floating_dtstart_is_read_in_the_schedules_zone():
    text = "DTSTART:20300105T090000\nRRULE:FREQ=DAILY;COUNT=1"
    assert utc_sends(rule(text)) == [datetime(2030, 1, 5, 8)]
    assert utc_sends(rule(text, "UTC")) == [datetime(2030, 1, 5, 9)]


def test_several_rrule_rdate_and_exdate_lines_make_one_set():
    text = ("DTSTART;TZID=Europe/Amsterdam:20300107T090000\n"
            "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3\n"
            "RRULE:FREQ=WEEKLY;BYDAY=FR;COUNT=2\n"
            "RDATE:20300109T120000Z\n"
            "RDATE;TZID=Europe/London:20300110T120000,20300110T130000\n"
            "EXDATE;TZID=Europe/Amsterdam:20300114T090000\n"
            "EXDATE:20300111T080000Z")
    assert utc_sends(rule(text, "UTC"), 10) == [
        datetime(2030, 1, 7, 8), datetime(2030, 1, 9, 12), datetime(2030, 1, 10, 12),
        datetime(2030, 1, 10, 13), datetime(2030, 1, 18, 8), datetime(2030, 1, 21, 8)]


def test_until_in_utc_as_a_date_and_folded_lines():
    utc_until = "DTSTART;TZID=Europe/Amsterdam:20300105T090000\nRRULE:FREQ=DAILY;UNTIL=20300106T080000Z"
    assert utc_sends(rule(utc_until)) == [datetime(2030, 1, 5, 8), datetime(2030, 1, 6, 8)]
    date_until = "DTSTART;TZID=Europe/Amsterdam:20300105T090000\nRRULE:FREQ=DAILY;UNTIL=20300106"
    assert len(utc_sends(rule(date_until))) == 2  # a DATE bounds the whole day (3.3.10)
    folded = "DTSTART;TZID=Europe/Amsterdam:20300105T090000\r\nRRULE:FREQ=DAILY;\r\n COUNT=2\r\n"
    assert len(utc_sends(rule(folded))) == 2  # content lines unfold (3.1)


def test_rdate_only_set_includes_dtstart():
    text = "DTSTART;TZID=Europe/Amsterdam:20300105T090000\nRDATE;TZID=Europe/Amsterdam:20300205T090000"
    assert utc_sends(rule(text)) == [datetime(2030, 1, 5, 8), datetime(2030, 2, 5, 8)]


@pytest.mark.parametrize("text, message", [
    ("DTSTART;TZID=Mars/Olympus:20300105T090000\nFREQ=DAILY", "unknown time zone"),
    ("DTSTART;TZID=W. Europe Standard Time:20300105T090000\nFREQ=DAILY", "IANA name"),
    ("DTSTART;TZID=Europe/Paris:20300105T090000Z\nFREQ=DAILY", "both TZID and Z"),
    ("DTSTART:20300105T090000-0800\nFREQ=DAILY", "UTC offset is not allowed"),
    ("DTSTART;VALUE=DATE:20300105\nFREQ=DAILY", "no single time of day"),
    ("DTSTART:20300105T090000\nDTSTART:20300106T090000\nFREQ=DAILY", "DTSTART appears twice"),
    ("DTSTART:20300105T090000\nFREQ=DAILY\nEXRULE:FREQ=WEEKLY", "EXRULE was removed"),
    ("DTSTART:20300105T090000\nRDATE;VALUE=PERIOD:20300105T090000/PT1H", "VALUE=PERIOD"),
    ("BEGIN:VEVENT\nDTSTART:20300105T090000\nFREQ=DAILY", "BEGIN is not understood"),
    ("DTSTART:20300105T090000\nFREQ=DAILY;COUNT=2;UNTIL=20300110", "COUNT and UNTIL"),
    ("DTSTART:20300105T090000\nFREQ=DAILY;INTERVAL=0", "INTERVAL=0"),
    ("DTSTART:20300105T090000\nFREQ=WEEKLY;BYDAY=2MO", "numbered weekday"),
    ("DTSTART:20300105T090000\nFREQ=DAILY;FREQ=WEEKLY", "appears twice"),
    ("DTSTART:20300105T090000\nFREQ=DAILY;BYEASTER=0", "not in RFC 5545"),
    ("DTSTART:20300105T090000\nFREQ=DAILY;UNTIL=20300101T000000", "before DTSTART"),
    ("DTSTART:20300230T090000\nFREQ=DAILY", "no such date"),
    ("DTSTART:20300105T090000", "Give an RRULE line"),
])
def test_forms_that_cannot_be_read_right_are_refused_naming_the_problem(text, message):
    with pytest.raises(RuleError, match=message) as caught:
        preview(rule(text), NOW)
    assert caught.value.field == "rrule_text"
