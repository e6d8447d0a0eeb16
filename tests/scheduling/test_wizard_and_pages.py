"""The When step's recurring and RRULE modes, the planning preview, the schedule editor, API and CLI."""
import json

from sqlalchemy import select

from app.broadcasts.models import Broadcast
from app.core.extensions import db
from app.scheduling.models import Schedule
from app.testing import csrf_token


def _draft_to_when(wizard, network, kind="notice"):
    wizard.start(kind)
    wizard.post("audience", {"product_ids": [network.starter.id], "product_statuses": ["active"]})
    wizard.post("content", {"subject": "Weekly tips", "body_html": "<p>Tips</p>", "notice_type": "info",
                            "timezone": "UTC"})


def test_recurring_mode_validates_shows_the_plan_and_schedules(wizard, network):
    _draft_to_when(wizard, network)
    response = wizard.post("when", {"schedule": "recurring", "timezone": "Europe/Amsterdam",
                                    "send_at_local": "2099-01-05T10:00", "repeat": "weekly", "interval": "2"})
    assert response.status_code == 400 and "Choose at least one weekday" in response.get_data(as_text=True)
    response = wizard.post("when", {"schedule": "recurring", "timezone": "Europe/Amsterdam",
                                    "send_at_local": "2099-01-05T10:00", "repeat": "weekly", "interval": "2",
                                    "weekdays": ["1", "4"]})
    assert response.status_code == 302
    when = wizard.client.get(wizard.url("when")).get_data(as_text=True)
    assert 'value="recurring" checked' in when or "value=\"recurring\"" in when
    assert "Planning preview" in when and "Tue 06 Jan 2099" in when and "Fri 09 Jan 2099" in when
    assert "Tue 20 Jan 2099" in when  # every other week
    broadcast = db.session.get(Broadcast, wizard.broadcast_id)
    review = wizard.client.get(wizard.url("review")).get_data(as_text=True)
    assert "Every 2 weeks on Tue, Fri at 10:00" in review and ">Schedule<" in review.replace("\n", "")
    wizard.post("review", {"revision": str(broadcast.revision)}, nav="send")
    db.session.expire_all()
    assert broadcast.status == "scheduled"
    assert broadcast.schedule.status == "active" and str(broadcast.schedule.next_at) == "2099-01-06 09:00:00"
    page = wizard.client.get(f"/network/broadcasts/{broadcast.id}").get_data(as_text=True)
    assert "Upcoming sends" in page and "Edit schedule" in page


def test_rrule_mode_errors_and_switching_back_to_now_drops_the_rule(wizard, network):
    _draft_to_when(wizard, network)
    response = wizard.post("when", {"schedule": "rrule", "timezone": "UTC", "rrule_text": "FREQ=DAILY"})
    assert "Give a DTSTART line or choose a first date and time" in response.get_data(as_text=True)
    response = wizard.post("when", {"schedule": "rrule", "timezone": "UTC", "rrule_text": "FREQ=FORTNIGHTLY",
                                    "send_at_local": "2099-01-01T09:00"})
    assert response.status_code == 400 and "not a valid RFC 5545 rule" in response.get_data(as_text=True)
    response = wizard.post("when", {"schedule": "rrule", "timezone": "UTC",
                                    "rrule_text": "DTSTART:20200101T090000\nFREQ=DAILY;COUNT=2"})
    assert response.status_code == 400 and "no occurrence in the future" in response.get_data(as_text=True)
    response = wizard.post("when", {"schedule": "rrule", "timezone": "UTC",
                                    "rrule_text": "DTSTART:20990101T090000\nFREQ=MONTHLY;BYDAY=2TU"})
    assert response.status_code == 302
    assert db.session.scalar(select(Schedule.kind)) == "rrule"
    wizard.post("when", {"schedule": "now", "timezone": "UTC"})
    assert db.session.scalar(select(Schedule.id)) is None


def test_live_preview_fragment(boss):
    response = boss.get("/network/scheduling/preview?schedule=recurring&repeat=monthly&month_day=31"
                        "&send_at_local=2099-01-31T08:00&timezone=UTC&interval=1")
    page = response.get_data(as_text=True)
    assert "Sat 31 Jan 2099" in page and "Tue 31 Mar 2099" in page and "Feb 2099" not in page.split("<table")[0]
    assert 'class="calendar"' in page
    bad = boss.get("/network/scheduling/preview?schedule=recurring&repeat=weekly&send_at_local=2099-01-01T08:00"
                   "&timezone=Nowhere/Land").get_data(as_text=True)
    assert "Unknown time zone" in bad


def _scheduled(wizard, network):
    _draft_to_when(wizard, network)
    wizard.post("when", {"schedule": "recurring", "timezone": "UTC", "send_at_local": "2099-01-01T09:00",
                         "repeat": "daily", "interval": "1"})
    broadcast = db.session.get(Broadcast, wizard.broadcast_id)
    wizard.post("review", {"revision": str(broadcast.revision)}, nav="send")
    db.session.expire_all()
    return broadcast


def test_editor_pause_resume_end_pages(wizard, network):
    broadcast = _scheduled(wizard, network)
    client, url = wizard.client, f"/network/scheduling/broadcasts/{broadcast.id}"
    response = client.post(url, data={"csrf_token": csrf_token(client, url), "schedule": "recurring",
                                      "timezone": "UTC", "send_at_local": "2099-02-01T18:00",
                                      "repeat": "weekly", "interval": "1"})
    assert response.status_code == 400 and "Choose at least one weekday" in response.get_data(as_text=True)
    response = client.post(url, data={"csrf_token": csrf_token(client, url), "schedule": "recurring",
                                      "timezone": "UTC", "send_at_local": "2099-02-01T18:00",
                                      "repeat": "weekly", "interval": "1", "weekdays": ["0"]})
    assert response.status_code == 302
    db.session.expire_all()
    assert str(broadcast.schedule.next_at) == "2099-02-02 18:00:00"
    for action, status in (("pause", "paused"), ("resume", "scheduled"), ("end", "cancelled")):
        client.post(f"{url}/{action}", data={"csrf_token": csrf_token(client, url)})
        db.session.expire_all()
        assert broadcast.status == status, action
    assert client.post(f"{url}/pause").status_code == 400  # no CSRF token


def test_api_reads_replaces_and_controls_a_schedule(wizard, network, runner):
    broadcast = _scheduled(wizard, network)
    secret = runner.invoke(args=["api-keys", "create", "--user", "boss@example.com"]).output.split()[0]
    client, headers = wizard.client, {"Authorization": f"Bearer {secret}"}
    url = f"/api/v1/broadcasts/{broadcast.id}/schedule"
    assert client.get(url).status_code == 401
    data = client.get(url, headers=headers).get_json()
    assert data["kind"] == "daily" and data["status"] == "active" and len(data["upcoming"]) == 5
    bad = client.put(url, headers=headers, data=json.dumps({"kind": "rrule", "rrule": "NOPE", "start": "2099-01-01T09:00"}),
                     content_type="application/json")
    assert bad.status_code == 400 and bad.get_json()["error"].startswith("rrule: This is not a valid")
    good = client.put(url, headers=headers, content_type="application/json", data=json.dumps(
        {"kind": "rrule", "timezone": "Europe/Amsterdam", "rrule": "DTSTART:20990101T090000\nFREQ=MONTHLY;BYDAY=2TU"}))
    assert good.status_code == 200 and good.get_json()["upcoming"][0] == "2099-01-13T09:00:00"
    assert client.post(f"{url}/resume", headers=headers).status_code == 409
    odd = client.post(f"{url}/end", headers=headers, json={"at": "2099-06-01"})  # a field it has not: refused
    assert odd.status_code == 400 and list(odd.get_json()["fields"]) == ["at"]
    assert client.get(url, headers=headers).get_json()["status"] == "active"
    assert client.post(f"{url}/pause", headers=headers).get_json()["status"] == "paused"


def test_cli_lists_and_controls_schedules(wizard, network, runner):
    broadcast = _scheduled(wizard, network)
    listing = runner.invoke(args=["schedules", "list"]).output
    assert f"broadcast {broadcast.id}" in listing and "2099-01-01 09:00 UTC" in listing
    assert runner.invoke(args=["schedules", "pause", str(broadcast.id)]).exit_code == 0
    again = runner.invoke(args=["schedules", "pause", str(broadcast.id)])
    assert again.exit_code != 0 and "not active" in again.output
    assert runner.invoke(args=["schedules", "end", "999999"]).output.strip().endswith("no broadcast 999999.")
    once = runner.invoke(args=["scheduler", "run", "--once"])
    assert once.exit_code == 0 and "0 fired" in once.output
