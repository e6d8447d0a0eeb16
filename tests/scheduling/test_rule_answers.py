"""Schedules say what they do: a pasted rule is described in words, a floating UNTIL with a UTC or
TZID DTSTART is refused (RFC 5545 3.3.10), and any accepted rule answers well under 2 s."""
import time  # thread_time: the CPU the request spends in this thread, steady on a busy machine

import pytest

from app.scheduling.describe import rrule_words
from tests.scheduling.test_every_path import _api
from tests.scheduling.test_wizard_and_pages import _scheduled

SLOW = ("DTSTART:10000101T000000Z\nRRULE:FREQ=MINUTELY;INTERVAL=13;BYMONTH=2;BYMONTHDAY=29;"
        "BYHOUR=0;BYMINUTE=0")  # took 2.52 s and answered 200 with a 2 s expansion bound


def test_a_rule_with_a_utc_dtstart_and_a_floating_until_is_refused(wizard, network, runner):
    put, _ = _api(wizard, runner, _scheduled(wizard, network))
    for start in ("DTSTART:20990105T090000Z", "DTSTART;TZID=Europe/Amsterdam:20990105T090000"):
        answer = put({"kind": "rrule", "timezone": "UTC",
                      "rrule": f"{start}\nRRULE:FREQ=DAILY;UNTIL=21000105T090000"})
        assert answer.status_code == 400 and "RFC 5545 3.3.10" in answer.get_json()["error"]
        assert "UNTIL=21000105T090000Z" in answer.get_json()["error"]
    fine = put({"kind": "rrule", "timezone": "UTC",
                "rrule": "DTSTART:20990105T090000Z\nRRULE:FREQ=DAILY;UNTIL=21000105T090000Z"})
    assert fine.status_code == 200, fine.get_data(as_text=True)
    floating = put({"kind": "rrule", "timezone": "UTC",
                    "rrule": "DTSTART:20990105T090000\nRRULE:FREQ=DAILY;UNTIL=21000105T090000"})
    assert floating.status_code == 200


def test_any_rule_answers_well_under_two_seconds(wizard, network, runner):
    put, _ = _api(wizard, runner, _scheduled(wizard, network))
    started = time.thread_time()
    answer = put({"kind": "rrule", "timezone": "UTC", "rrule": SLOW})
    assert answer.status_code in (200, 400) and time.thread_time() - started < 1.8


def test_a_pasted_rule_is_described_in_words(wizard, network, runner):
    put, _ = _api(wizard, runner, _scheduled(wizard, network))
    data = put({"kind": "rrule", "timezone": "UTC",
                "rrule": "DTSTART:20990105T090000Z\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,FR"}).get_json()
    assert data["description"].startswith("Every 2 weeks on Tuesday, Friday at 09:00, from 05 Jan 2099")


@pytest.mark.parametrize("rule, words", [
    ("FREQ=MONTHLY;BYDAY=2TU", "Every month on the second Tuesday"),
    ("FREQ=MONTHLY;BYMONTHDAY=-1;BYHOUR=9;BYMINUTE=0;COUNT=5", "Every month on the last day at 09:00, 5 times"),
    ("DTSTART:20990101T080000Z\nRRULE:FREQ=YEARLY;BYMONTH=1,7;BYMONTHDAY=1;UNTIL=21000101T000000Z",
     "Every year on day 1 in January, July at 08:00, from 01 Jan 2099 until 01 Jan 2100 (UTC)"),
    ("FREQ=YEARLY;BYWEEKNO=3", None),  # not said in words: the rule's text is shown instead
    ("FREQ=DAILY\nRRULE:FREQ=WEEKLY", None),
])
def test_rule_words(rule, words):
    assert rrule_words(rule) == words
