"""The whole wizard through the test client, as a browser without JavaScript would use it."""
from app.broadcasts.models import Broadcast, BroadcastRun
from app.core.extensions import db
from app.core.jobs import get_queue


def test_email_wizard_from_kind_to_send(wizard, network):
    page = wizard.client.get("/network/broadcasts/new")
    assert page.status_code == 200 and "Notice" in page.get_data(as_text=True)
    wizard.start("email")

    audience = wizard.client.get(wizard.url("audience")).get_data(as_text=True)
    assert "Customers matched" in audience
    response = wizard.post("audience", {"product_ids": [network.starter.id],
                                        "product_statuses": ["active", "trialing"],
                                        "add_customer_ids": [network.gus.id]})
    assert response.status_code == 302 and response.location.endswith("/edit/content")

    response = wizard.post("content", {"subject": "Hello {{ customer_first_name }}",
                                       "body_html": "<p>Hi {{ customer_name }}</p><script>x()</script>",
                                       "timezone": "UTC"})
    assert response.status_code == 302 and response.location.endswith("/edit/when")
    response = wizard.post("when", {"schedule": "now", "timezone": "Europe/Amsterdam",
                                    "labels": "news, Launch ,news", "from_name": "The Team",
                                    "reply_to": "help@example.com"})
    assert response.status_code == 302 and response.location.endswith("/edit/review")

    review = wizard.client.get(wizard.url("review")).get_data(as_text=True)
    assert "Hello Ann" in review  # rendered for the lowest targeted id
    assert "Send now" in review
    broadcast = db.session.get(Broadcast, wizard.broadcast_id)
    assert broadcast.body_html == "<p>Hi {{ customer_name }}</p>x()"
    assert [l.label for l in broadcast.labels] == ["Launch", "news"]
    assert broadcast.track_opens is False and broadcast.track_clicks is False
    # ann, bob, eve (ann's address), hal (unsubscribed), gus: 5 customers, 4 addresses, 3 deliverable
    assert broadcast.audience_size == 3

    response = wizard.post("review", {"revision": str(broadcast.revision)}, nav="send")
    assert response.status_code == 302 and response.location.endswith(f"/broadcasts/{broadcast.id}")
    db.session.expire_all()
    assert broadcast.status == "sending"
    run = db.session.scalars(db.select(BroadcastRun)).one()
    assert run.status == "planning"
    jobs = [get_queue("delivery").fetch_job(i) for i in get_queue("delivery").job_ids]
    assert [(j.func_name, j.args) for j in jobs] == [("app.delivery.jobs.plan_run", (run.id,))]


def test_notice_wizard_publishes_a_run(wizard, network):
    wizard.start("notice")
    wizard.post("audience", {"product_ids": [network.business.id], "product_statuses": ["active"]})
    response = wizard.post("content", {"subject": "Maintenance", "body_html": "<p>Tonight</p>",
                                       "notice_type": "warning", "dismissible": "y",
                                       "ends_at_local": "2099-01-01T10:00", "timezone": "Europe/Amsterdam"})
    assert response.status_code == 302
    broadcast = db.session.get(Broadcast, wizard.broadcast_id)
    assert str(broadcast.ends_at) == "2099-01-01 09:00:00"  # stored in UTC
    wizard.post("when", {"schedule": "now", "timezone": "UTC"})
    response = wizard.post("review", {"revision": str(broadcast.revision)}, nav="send")
    assert response.status_code == 302
    db.session.expire_all()
    assert broadcast.status == "sent"
    assert [r.status for r in broadcast.runs] == ["published"]
    assert get_queue("delivery").count == 0


def test_steps_show_errors_next_to_fields_and_keep_work(wizard, network):
    wizard.start("email")
    response = wizard.post("audience", {})
    assert response.status_code == 400
    assert "Choose at least one customer or product." in response.get_data(as_text=True)

    wizard.post("audience", {"product_ids": [network.starter.id], "product_statuses": ["active"]})
    response = wizard.post("content", {"subject": "Hi {{ nickname }}", "body_html": "<p>x</p>",
                                       "timezone": "UTC"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Line 1, column 4: unknown placeholder {{ nickname }}" in page
    assert 'value="Hi {{ nickname }}"' in page  # what was typed is shown again
    assert db.session.get(Broadcast, wizard.broadcast_id).subject == ""  # invalid: nothing saved

    response = wizard.post("content", {"subject": "Only a subject", "body_html": "", "timezone": "UTC"},
                           nav="back")
    assert response.status_code == 302 and response.location.endswith("/edit/audience")
    assert db.session.get(Broadcast, wizard.broadcast_id).subject == "Only a subject"
    response = wizard.post("content", {"subject": "Only a subject", "body_html": "", "timezone": "UTC"})
    assert response.status_code == 400 and "Write the message." in response.get_data(as_text=True)


def test_steps_cannot_be_skipped_and_drafts_resume_where_they_stopped(wizard, network):
    wizard.start("notice")
    response = wizard.client.get(wizard.url("review"))
    assert response.status_code == 302 and response.location.endswith("/edit/audience")
    response = wizard.client.get(f"/network/broadcasts/{wizard.broadcast_id}/edit")
    assert response.location.endswith("/edit/audience")
    listing = wizard.client.get("/network/broadcasts/").get_data(as_text=True)
    assert f"/network/broadcasts/{wizard.broadcast_id}/edit" in listing and "Resume" in listing
    assert wizard.client.get(wizard.url("nonsense")).status_code == 404


def test_once_schedule_is_stored_in_utc_with_its_zone(wizard, network):
    wizard.start("email")
    wizard.post("audience", {"product_ids": [network.starter.id], "product_statuses": ["active"]})
    wizard.post("content", {"subject": "Later", "body_html": "<p>Later</p>", "timezone": "UTC"})
    response = wizard.post("when", {"schedule": "once", "timezone": "America/New_York"})
    assert response.status_code == 400 and "Choose the date and time" in response.get_data(as_text=True)
    response = wizard.post("when", {"schedule": "once", "send_at_local": "2099-03-08T02:30",
                                    "timezone": "America/New_York"})
    assert response.status_code == 400
    assert "does not exist in America/New_York" in response.get_data(as_text=True)
    response = wizard.post("when", {"schedule": "once", "send_at_local": "2099-07-01T09:00",
                                    "timezone": "America/New_York"})
    assert response.status_code == 302
    broadcast = db.session.get(Broadcast, wizard.broadcast_id)
    assert str(broadcast.send_at) == "2099-07-01 13:00:00" and broadcast.timezone == "America/New_York"
    review = wizard.client.get(wizard.url("review")).get_data(as_text=True)
    assert "Schedule" in review and "09:00" in review
    wizard.post("review", {"revision": str(broadcast.revision)}, nav="send")
    db.session.expire_all()
    assert broadcast.status == "scheduled" and broadcast.runs.count() == 0
    assert get_queue("delivery").count == 0


def test_first_step_and_every_save_check_input_and_csrf(wizard, network):
    response = wizard.client.post("/network/broadcasts/new",
                                  data={"csrf_token": wizard.token(), "kind": "fax"})
    assert response.status_code == 400 and "Not a valid choice" in response.get_data(as_text=True)
    response = wizard.client.post("/network/broadcasts/new", data={"kind": "notice"})
    assert response.status_code == 400
    assert db.session.scalar(db.select(db.func.count()).select_from(Broadcast)) == 0
    wizard.start("notice")
    response = wizard.client.post(wizard.url("audience"), data={"add_customer_ids": str(network.ann.id)})
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    assert db.session.get(Broadcast, wizard.broadcast_id).customer_ids == []


def test_sent_broadcasts_leave_the_wizard_for_their_page(wizard, network):
    wizard.start("notice")
    wizard.post("audience", {"add_customer_ids": str(network.ann.id)})
    wizard.post("content", {"subject": "Done", "body_html": "<p>x</p>", "timezone": "UTC"})
    wizard.post("when", {"schedule": "now", "timezone": "UTC"})
    revision = db.session.get(Broadcast, wizard.broadcast_id).revision
    wizard.post("review", {"revision": str(revision)}, nav="send")
    response = wizard.client.get(wizard.url("content"))
    assert response.status_code == 302 and response.location.endswith(f"/broadcasts/{wizard.broadcast_id}")
    response = wizard.client.post(wizard.url("content"), data={
        "csrf_token": wizard.token("/network/broadcasts/"), "subject": "Changed after sending",
        "timezone": "UTC", "nav": "save"})
    assert response.status_code == 302
    assert "nothing was changed or sent again" in wizard.client.get(response.location).get_data(as_text=True)
    assert db.session.get(Broadcast, wizard.broadcast_id).subject == "Done"
