"""Send, schedule, start_run and cancel: one send per press, one run per occurrence, real queue."""
import threading
from datetime import datetime

import pytest

from app.broadcasts.drafts import create_draft
from app.broadcasts.models import Broadcast, BroadcastRun
from app.broadcasts.sending import SendError, cancel, send_later, send_now, start_run, unschedule
from app.core.extensions import db
from app.core.jobs import get_queue
from app.core.utils import utcnow


def ready_email(network, **extra):
    broadcast = create_draft(network.admin, {"kind": "email", "subject": "S", "body_html": "<p>B</p>",
                                             "product_ids": [network.starter.id], **extra})
    db.session.commit()
    return broadcast


def delivery_jobs():
    queue = get_queue("delivery")
    return [(job.func_name, job.args) for job in map(queue.fetch_job, queue.job_ids)]


def test_double_submitted_send_starts_exactly_one_send(wizard, network):
    wizard.start("email")
    wizard.post("audience", {"product_ids": [network.starter.id], "product_statuses": ["active"]})
    wizard.post("content", {"subject": "Once", "body_html": "<p>Once</p>", "timezone": "UTC"})
    wizard.post("when", {"schedule": "now", "timezone": "UTC"})
    revision = str(db.session.get(Broadcast, wizard.broadcast_id).revision)
    token = wizard.token(wizard.url("review"))
    form = {"csrf_token": token, "revision": revision, "nav": "send"}
    first = wizard.client.post(wizard.url("review"), data=form)
    second = wizard.client.post(wizard.url("review"), data=form)  # the same form, pressed again
    assert first.status_code == second.status_code == 302
    assert second.location.endswith(f"/broadcasts/{wizard.broadcast_id}")
    assert "nothing was changed or sent again" in wizard.client.get(second.location).get_data(as_text=True)
    runs = db.session.scalars(db.select(BroadcastRun)).all()
    assert len(runs) == 1 and delivery_jobs() == [("app.delivery.jobs.plan_run", (runs[0].id,))]


@pytest.mark.committed  # threads with their own sessions must see the draft
def test_concurrent_sends_of_one_draft_start_one_run(app, network):
    broadcast_id = ready_email(network).id
    outcomes = []
    barrier = threading.Barrier(4)

    def press_send():
        with app.app_context():
            barrier.wait()
            try:
                send_now(db.session.get(Broadcast, broadcast_id))
                db.session.commit()
                outcomes.append("sent")
            except SendError as error:
                db.session.rollback()
                outcomes.append(str(error))
            except Exception as error:  # SQLite may refuse a concurrent writer: also no second send
                db.session.rollback()
                outcomes.append(f"refused: {type(error).__name__}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=press_send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("sent") == 1, outcomes
    assert db.session.scalar(db.select(db.func.count()).select_from(BroadcastRun)) == 1
    assert len(delivery_jobs()) == 1


def test_a_draft_changed_in_another_tab_is_not_sent_blindly(network):
    broadcast = ready_email(network)
    seen = broadcast.revision
    broadcast.revision += 1  # another tab saved a step
    db.session.commit()
    with pytest.raises(SendError, match="changed"):
        send_now(broadcast, expected_revision=seen)
    db.session.rollback()
    assert broadcast.status == "draft" and delivery_jobs() == []


def test_second_tab_review_page_refuses_after_a_change(wizard, network):
    wizard.start("notice")
    wizard.post("audience", {"add_customer_ids": [network.ann.id]})
    wizard.post("content", {"subject": "One", "body_html": "<p>1</p>", "timezone": "UTC"})
    wizard.post("when", {"schedule": "now", "timezone": "UTC"})
    old_revision = str(db.session.get(Broadcast, wizard.broadcast_id).revision)
    wizard.post("content", {"subject": "Two", "body_html": "<p>2</p>", "timezone": "UTC"}, nav="save")
    response = wizard.post("review", {"revision": old_revision}, nav="send")
    assert response.status_code == 400 and "changed" in response.get_data(as_text=True)
    assert db.session.get(Broadcast, wizard.broadcast_id).status == "draft"


def test_start_run_is_idempotent_per_occurrence(network):
    broadcast = ready_email(network)
    occurrence = datetime(2030, 1, 1, 9, 0)
    first = start_run(broadcast, occurrence)
    db.session.commit()
    again = start_run(broadcast, occurrence)
    db.session.commit()
    assert first.id == again.id and len(delivery_jobs()) == 1
    assert broadcast.status == "sending" and broadcast.sent_at is not None


def test_start_run_for_a_schedule_keeps_it_scheduled_when_not_final(network):
    broadcast = ready_email(network, send_at=datetime(2099, 1, 1))
    send_later(broadcast)
    db.session.commit()
    assert broadcast.status == "scheduled" and delivery_jobs() == []
    start_run(broadcast, datetime(2099, 1, 1), final=False)
    db.session.commit()
    assert broadcast.status == "scheduled" and len(delivery_jobs()) == 1
    start_run(broadcast, datetime(2099, 1, 8))
    db.session.commit()
    assert broadcast.status == "sending" and broadcast.runs.count() == 2


def test_not_ready_broadcasts_are_refused_with_their_problems(network):
    empty = create_draft(network.admin, {"kind": "email"})
    with pytest.raises(SendError) as error:
        send_now(empty)
    assert {p.step for p in error.value.problems} == {"audience", "content"}
    needs_permission = create_draft(network.admin, {"kind": "email", "subject": "S", "body_html": "<p>B</p>",
                                                    "product_ids": [network.business.id]})
    with pytest.raises(SendError, match="permission"):
        send_now(needs_permission)
    passed = ready_email(network)
    passed.send_at = datetime(2001, 1, 1)
    with pytest.raises(SendError, match="passed"):
        send_later(passed)


def test_cancel_and_unschedule(network):
    draft = ready_email(network)
    assert cancel(draft) == "draft" and draft.status == "cancelled"
    with pytest.raises(SendError):
        cancel(draft)
    scheduled = ready_email(network, send_at=datetime(2099, 1, 1))
    send_later(scheduled)
    unschedule(scheduled)
    assert scheduled.status == "draft"
    with pytest.raises(SendError):
        unschedule(scheduled)
    sending = ready_email(network)
    run = send_now(sending)
    cancel(sending)
    db.session.commit()
    db.session.refresh(run)
    assert sending.status == "cancelled" and run.status == "cancelled" and run.finished_at <= utcnow()
