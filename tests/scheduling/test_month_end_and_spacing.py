"""Monthly days past a short month's end say what they do; e-mail schedules keep a minimum interval."""
from datetime import datetime

import pytest

from app.core.extensions import db
from app.scheduling.describe import describe_spec
from app.scheduling.rules import RuleError, RuleSpec, preview
from app.scheduling.services import save_schedule
from app.core.settings.services import coerce, registry, set_option
from app.testing import csrf_token
from tests.scheduling.conftest import at
from tests.scheduling.test_wizard_and_pages import _draft_to_when, _scheduled

MIN_GAP = "scheduling.email_min_interval_minutes"


def monthly(day, short_months="skip", start=datetime(2099, 1, 31, 8)):
    return RuleSpec("monthly", "UTC", start, month_day=day, short_months=short_months)


def test_day_31_with_the_last_day_option_sends_every_month_and_says_so():
    assert [d.date().isoformat() for d in preview(monthly(31, "last_day"), datetime(2099, 1, 1), 5)] == [
        "2099-01-31", "2099-02-28", "2099-03-31", "2099-04-30", "2099-05-31"]
    assert describe_spec(monthly(31, "last_day")) == \
        "Every month on the last day of the month at 08:00, from 31 Jan 2099 (UTC)"
    day_30 = monthly(30, "last_day", datetime(2100, 1, 30, 8))  # 2100 is not a leap year
    assert [d.day for d in preview(day_30, datetime(2100, 1, 1), 4)] == [30, 28, 30, 30]
    assert "on day 30 (the last day of February when it is shorter)" in describe_spec(day_30)


def test_day_31_without_the_option_says_plainly_which_months_get_nothing():
    assert [d.month for d in preview(monthly(31), datetime(2099, 1, 1), 3)] == [1, 3, 5]
    assert describe_spec(monthly(31)) == (
        "Every month on day 31 at 08:00, from 31 Jan 2099 (UTC); no send in February, April, June, "
        "September and November, which have no day 31")
    assert "no send in February in common years, which has no day 29" in describe_spec(monthly(29))


def test_wizard_and_preview_offer_the_last_day_of_the_month(wizard, network):
    _draft_to_when(wizard, network)
    when = wizard.client.get(wizard.url("when")).get_data(as_text=True)
    assert "send on the month&#39;s last day" in when or "send on the month's last day" in when
    query = {"schedule": "recurring", "repeat": "monthly", "month_day": "31", "interval": "1",
             "send_at_local": "2099-01-31T08:00", "timezone": "UTC"}
    skipping = wizard.client.get("/network/scheduling/preview", query_string=query).get_data(as_text=True)
    assert "No send in February, April, June, September and November" in skipping
    last_day = wizard.client.get("/network/scheduling/preview",
                                 query_string={**query, "short_months": "last_day"}).get_data(as_text=True)
    assert "Sat 28 Feb 2099" in last_day and "No send in" not in last_day
    response = wizard.post("when", {**query, "short_months": "last_day"})
    assert response.status_code == 302
    review = wizard.client.get(wizard.url("review")).get_data(as_text=True)
    assert "on the last day of the month" in review


def test_email_schedule_closer_than_the_minimum_interval_is_refused_with_a_message(make_broadcast):
    email = make_broadcast("email")
    half_hourly = RuleSpec("rrule", "UTC", None,
                           rrule_text="DTSTART:20300101T090000\nRRULE:FREQ=MINUTELY;INTERVAL=30")
    with pytest.raises(RuleError, match="E-mail schedules must leave at least 1 hour") as caught:
        save_schedule(email, half_hourly, now=at(2029, 12, 1))
    assert "2030-01-01 09:00:00 and 2030-01-01 09:30:00 (UTC), 30 minutes apart" in str(caught.value)
    assert caught.value.field == "rrule_text"
    set_option(MIN_GAP, 30)
    assert save_schedule(email, half_hourly, now=at(2029, 12, 1)).next_at == at(2030, 1, 1, 9)
    # a notice may send every 30 minutes; nothing may send more than once a minute
    notice = make_broadcast("notice")
    assert save_schedule(notice, half_hourly, now=at(2029, 12, 1)).next_at == at(2030, 1, 1, 9)
    every_second = RuleSpec("rrule", "UTC", None, rrule_text="DTSTART:20300101T090000\nFREQ=SECONDLY")
    with pytest.raises(RuleError, match="Schedules must leave at least 1 minute"):
        save_schedule(notice, every_second, now=at(2029, 12, 1))


def test_minimum_interval_setting_is_registered_with_validation(app, boss):
    spec = registry().specs[MIN_GAP]
    assert spec.default == 60 and spec.type == "int"
    assert coerce(spec, "90") == 90
    with pytest.raises(ValueError, match="between 1 and 10,080 minutes"):
        coerce(spec, "0")
    page = boss.get("/network/settings/").get_data(as_text=True)
    assert "Minimum time between scheduled e-mails" in page


def test_wizard_refuses_a_half_hourly_email(wizard, network):
    _draft_to_when(wizard, network, kind="email")
    response = wizard.post("when", {"schedule": "rrule", "timezone": "UTC",
                                    "rrule_text": "DTSTART:20990101T090000\nFREQ=HOURLY;BYMINUTE=0,30"})
    assert response.status_code == 400
    assert "E-mail schedules must leave at least 1 hour between sends" in response.get_data(as_text=True)


def test_editor_refuses_a_too_close_email_schedule(wizard, network):
    broadcast = _scheduled(wizard, network)
    broadcast.kind = "email"
    db.session.commit()
    url = f"/network/scheduling/broadcasts/{broadcast.id}"
    response = wizard.client.post(url, data={
        "csrf_token": csrf_token(wizard.client, url), "schedule": "rrule", "timezone": "UTC",
        "rrule_text": "DTSTART:20990101T090000\nFREQ=MINUTELY"})
    assert response.status_code == 400 and "at least 1 hour between sends" in response.get_data(as_text=True)


def test_a_rule_whose_next_sends_cannot_all_be_worked_out_is_refused_not_accepted_unchecked(make_broadcast):
    """Once one send was known, hitting a bound used to accept the rule: these two rules send at
    2200-03-01 09:00 and 09:10 (review of issue 14), past where the walk stopped."""
    email = make_broadcast("email")
    sparse_then_close = RuleSpec("rrule", "UTC", None, rrule_text=(
        "DTSTART:10000101T000000Z\nRRULE:FREQ=MINUTELY;INTERVAL=13;BYMONTH=2;BYMONTHDAY=29;BYHOUR=0;BYMINUTE=0\n"
        "RRULE:FREQ=YEARLY;INTERVAL=400;BYMONTH=3;BYMONTHDAY=1;BYHOUR=9;BYMINUTE=0,10"))
    with pytest.raises(RuleError, match="must leave at least 1 hour|cannot be checked"):  # or the time bound
        save_schedule(email, sparse_then_close, now=at(2029, 12, 1))
    monthly_leap_day = RuleSpec("rrule", "UTC", None,
                                rrule_text="DTSTART:20300101T090000\nRRULE:FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=29")
    with pytest.raises(RuleError, match="cannot be checked") as caught:  # 500 sends: 24,000 months of walking
        save_schedule(email, monthly_leap_day, now=at(2029, 12, 1))
    assert caught.value.field == "rrule_text" and "Only the next 101 sends" in str(caught.value)
    sparse = RuleSpec("rrule", "UTC", None, rrule_text="DTSTART:20300101T090000\nRRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29")
    assert save_schedule(email, sparse, now=at(2029, 12, 1)).next_at == at(2032, 2, 29, 9)  # 500 leap days: walked
