"""Pause, resume and cancel from the run page, the JSON API and the CLI; the report pages."""
import re
from collections import Counter
from datetime import timedelta

from markupsafe import escape
from sqlalchemy import select

from app.api.keys import issue_key
from app.broadcasts.models import BroadcastRun
from app.core.jobs import after_commit, enqueue_now
from app.delivery.jobs import plan_run
from app.delivery.models import Delivery
from app.core.extensions import db as _db
from app.delivery.reaper import UNKNOWN_IN_SMTP, UNKNOWN_RECORD_LOST
from app.delivery.services import resend_question
from app.testing import audit_entries, csrf_token, login, make_user
from app.testing.browser_forms import browser_submission

from .conftest import add_customers, make_run, send_now_to, suppress


def _statuses(db, run_id):
    db.session.expire_all()
    return Counter(db.session.scalars(select(Delivery.status).where(Delivery.run_id == run_id)))


def _planned(jobs, run):
    """Plan the run and dispatch its chunks without sending any of them yet."""
    enqueue_now(plan_run, run.id, queue="delivery")
    jobs.work(max_jobs=1)


def _in_own_context(app, action):
    """Run ``action`` as another request would: in its own app context and database session."""
    with app.app_context():
        action()


def _once_after_first_batch(app, action):
    """While the run sends, call ``action()`` once, right after its first batch is committed."""
    done = []

    def callback(run_id, outcomes):
        if not done:
            done.append(run_id)
            after_commit(_in_own_context, app, action)
    app.extensions["herald_hooks"].add("delivery_results_recorded", callback)


def test_pause_on_the_page_then_resume_by_api_sends_each_once(app, db, admin_client, smtp_sink, product,
                                                              jobs):
    add_customers([(f"p{i:02d}@example.com", "P") for i in range(50)], product)
    run = make_run(products=[product])
    run_id, broadcast_id = run.id, run.broadcast_id
    token = csrf_token(admin_client, f"/network/broadcasts/{broadcast_id}/runs/{run_id}")
    pages = []
    _once_after_first_batch(app, lambda: pages.append(admin_client.post(
        f"/network/broadcasts/{broadcast_id}/runs/{run_id}/pause", data={"csrf_token": token},
        follow_redirects=True)))
    jobs.start(run)  # the admin presses Pause while the first chunk is being sent
    assert pages[0].status_code == 200 and b"Sending is paused" in pages[0].data
    assert db.session.get(BroadcastRun, run_id).status == "paused"
    # The outcomes of batch 1 are committed while batch 2 is sent (claimed ahead): batch 2 may
    # finish (it is under a second of sending), the batch claimed after it is given back. A job's
    # first two claims hold one row each (sending.FIRST_CLAIM, before a rate is measured).
    sent = len(smtp_sink.messages)
    assert sent in (1, 2)
    jobs.work()  # the waiting chunk jobs were withdrawn: nothing is sent while paused
    assert len(smtp_sink.messages) == sent and _statuses(db, run_id) == {"sent": sent, "queued": 50 - sent}

    response = admin_client.post(f"/network/api/v1/delivery/runs/{run_id}/resume",
                                 headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.json["run"]["status"] == "sending"
    jobs.work()
    received = Counter(smtp_sink.recipients())
    assert len(received) == 50 and max(received.values()) == 1
    assert _statuses(db, run_id) == {"sent": 50}
    progress = admin_client.get(f"/network/api/v1/delivery/runs/{run_id}").json
    assert (progress["status"], progress["sent"], progress["total"], progress["finished"]) == ("sent", 50, 50, True)


def test_cancel_from_the_cli_skips_the_rest(app, db, runner, smtp_sink, product, jobs):
    add_customers([(f"c{i:02d}@example.com", "C") for i in range(45)], product)
    run = make_run(products=[product])
    run_id = run.id
    results = []
    _once_after_first_batch(app, lambda: results.append(
        runner.invoke(args=["delivery", "cancel", str(run_id), "--yes"])))
    jobs.start(run)
    assert results[0].exit_code == 0, results[0].output
    jobs.work()
    # The cancel lands while batch 2 (claimed ahead) is sent: it may finish, nothing after it
    # (the first two claims hold a row each: sending.FIRST_CLAIM)
    sent = len(smtp_sink.messages)
    assert sent in (1, 2) and _statuses(db, run_id) == {"sent": sent, "skipped": 45 - sent}
    run = db.session.get(BroadcastRun, run_id)
    assert run.status == "cancelled" and run.broadcast.status == "cancelled" and run.finished_at
    assert set(db.session.scalars(select(Delivery.reason).where(Delivery.status == "skipped"))) == {"cancelled"}
    again = runner.invoke(args=["delivery", "resume", str(run_id)])
    assert again.exit_code == 1 and "only a paused run can be resumed" in again.output


def _progress_everywhere(admin_client, runner, run):
    """What the CLI's status, the progress JSON and the run page say of ``run``."""
    status = runner.invoke(args=["delivery", "status", str(run.id)]).output
    data = admin_client.get(f"/network/api/v1/delivery/runs/{run.id}").json
    page = " ".join(admin_client.get(f"/network/broadcasts/{run.broadcast_id}/runs/{run.id}")
                    .get_data(as_text=True).split())
    return status, data, page


def test_a_run_planning_or_cancelled_while_planning_has_processed_nothing(app, db, admin_client, runner,
                                                                          smtp_sink, product):
    """Review E (2026-12-01): with the workers stopped, a run sent to 50 customers said "planning /
    sent 0, processed 50 of 50 (100.0% processed)" (CLI, API, page), and "cancelled after 50 of
    50" once cancelled: processed was total - pending - cancelled, all of it while the ledger has
    no row. No job runs here: the run stays planning."""
    add_customers([(f"plan{i:02d}@example.com", "P") for i in range(50)], product)
    run = send_now_to(product)
    assert (run.status, run.total) == ("planning", 50)
    status, data, page = _progress_everywhere(admin_client, runner, run)
    assert "planning" in status and "sent 0, processed 0 of 50 (0.0% processed)" in status, status
    assert (data["status"], data["sent"], data["processed"], data["percent"]) == ("planning", 0, 0, 0.0)
    assert "0 sent · 0 of 50 processed (0.0% processed)" in " ".join(
        re.sub(r"<[^>]+>", "", page).split()), page

    cancelled = runner.invoke(args=["delivery", "cancel", str(run.id), "--yes"])
    assert cancelled.exit_code == 0, cancelled.output
    status, data, page = _progress_everywhere(admin_client, runner, run)
    assert "cancelled after 0 of 50" in status and "processed 0 of 50 (0.0% processed)" in status, status
    assert (data["status"], data["processed"], data["percent"]) == ("cancelled", 0, 0.0)
    assert "Cancelled after 0 of 50 · 0 sent · 0 of 50 processed (0.0% processed)" in " ".join(
        re.sub(r"<[^>]+>", "", page).split()), page
    assert len(smtp_sink.messages) == 0


def test_cli_status_pause_watch_and_errors(app, db, runner, smtp_sink, product, jobs):
    add_customers([(f"s{i}@example.com", "S") for i in range(5)], product)
    run = make_run(products=[product])
    run_id = run.id
    _planned(jobs, run)
    assert runner.invoke(args=["delivery", "pause", str(run_id)]).exit_code == 0
    status = runner.invoke(args=["delivery", "status", str(run_id)])
    assert "paused" in status.output and re.search(r"queued\s+5\n", status.output)
    watch = runner.invoke(args=["delivery", "watch", str(run_id), "--interval", "0.1"])
    assert watch.exit_code == 0 and "is paused: sent 0 of 5" in watch.output
    assert runner.invoke(args=["delivery", "resume", str(run_id)]).exit_code == 0
    jobs.work()
    watch = runner.invoke(args=["delivery", "watch", str(run_id)])
    assert "is sent: sent 5 of 5" in watch.output
    status = runner.invoke(args=["delivery", "status", str(run_id)]).output
    assert "/s on average" in status or "processed), excluded" in status  # no live rate once sent
    assert not re.search(r"(?<![0-9.])0\.0/s", status) and "time left" not in status
    for command in ("status", "supervise", "watch"):
        missing = runner.invoke(args=["delivery", command, "999"])
        assert missing.exit_code == 1 and "no broadcast run 999." in missing.output
        # supervise 0 said nothing (0 read as "no RUN_ID"): no row has it, a usage error (ROW_ID)
        zero = runner.invoke(args=["delivery", command, "0"])
        assert zero.exit_code == 2 and "Invalid value" in zero.output
    assert runner.invoke(args=["delivery", "pause", str(run_id)]).exit_code == 1


def test_api_errors_are_json(app, db, admin_client, smtp_sink, product, jobs):
    add_customers([("e@example.com", "E")], product)
    run = make_run(products=[product])
    run_id = run.id
    jobs.start(run)
    token = csrf_token(admin_client, "/network/")
    assert admin_client.get("/network/api/v1/delivery/runs/999").status_code == 404
    for run in ("2147483648", "-1", "x"):  # no route matches: still the API's JSON error
        missing = admin_client.get(f"/network/api/v1/delivery/runs/{run}")
        assert missing.status_code == 404 and missing.is_json and missing.json["status"] == 404, run
    response = admin_client.post(f"/network/api/v1/delivery/runs/{run_id}/pause", headers={"X-CSRFToken": token})
    assert response.status_code == 409 and "only a sending run can be paused" in response.json["error"]
    odd = admin_client.post(f"/network/api/v1/delivery/runs/{run_id}/cancel", headers={"X-CSRFToken": token},
                            json={"keep_sent": True})  # a field it has not: refused, nothing cancelled
    assert odd.status_code == 400 and "keep_sent: Unknown field" in odd.json["error"]
    assert admin_client.get(f"/network/api/v1/delivery/runs/{run_id}").json["status"] != "cancelled"
    response = admin_client.post(f"/network/api/v1/delivery/runs/{run_id}/explode", headers={"X-CSRFToken": token})
    assert response.status_code == 404 and "Unknown action" in response.json["error"]
    assert admin_client.post(f"/network/api/v1/delivery/runs/{run_id}/pause").status_code == 400  # no CSRF


def test_report_page_log_search_filter_pages_and_csv(app, db, admin_client, smtp_sink, product, jobs):
    add_customers([(f"r{i:03d}@example.com", "R") for i in range(60)], product)
    add_customers([("r000@example.com", "Twin")], product)
    suppress("r001@example.com", "complained")
    smtp_sink.cues = {"r002@example.com": ["550 5.1.1 No such user"]}
    run = make_run(products=[product])
    run_id, broadcast_id = run.id, run.broadcast_id
    jobs.start(run)
    base = f"/network/broadcasts/{broadcast_id}/runs/{run_id}"
    run = db.session.get(BroadcastRun, run_id)
    run.started_at = run.finished_at - timedelta(seconds=10)  # 58 sent in 10 s
    db.session.commit()

    page = admin_client.get(base).get_data(as_text=True)
    assert 'data-count="sent">58<' in page and 'data-count="failed">1<' in page
    # A finished run has no live rate ("0.0 messages/s" until now) nor time left: its average.
    assert "5.8 messages/s on average" in page and 'data-field="rate"' not in page and "time left" not in page
    assert admin_client.get(f"/network/api/v1/delivery/runs/{run_id}").json["average_rate"] == 5.8
    assert "Excluded at planning (2)" in page and "complained" in page
    first = re.findall(r"<tr><td>(r\d+@example.com)", page)
    assert len(first) == 50 and "Older" in page  # one page of 50 rows, newest first
    cursor = re.search(r"after=(\d+)", page).group(1)
    older = admin_client.get(f"{base}?after={cursor}").get_data(as_text=True)
    second = re.findall(r"<tr><td>(r\d+@example.com)", older)
    assert len(second) == 10 and set(first) | set(second) == {f"r{i:03d}@example.com" for i in range(60)}
    before = re.search(r"before=(\d+)", older).group(1)
    newer = admin_client.get(f"{base}?before={before}").get_data(as_text=True)
    assert re.findall(r"<tr><td>(r\d+@example.com)", newer) == first
    search = admin_client.get(base + "?q=R00").get_data(as_text=True)
    assert search.count('<tr><td>r00') == 10 and "r010@example.com" not in search
    failed = admin_client.get(base + "?status=failed").get_data(as_text=True)
    assert "r002@example.com" in failed and "No such user" in failed and "r003@example.com" not in failed
    duplicates = admin_client.get(base + "/duplicates").get_data(as_text=True)
    assert "r000@example.com" in duplicates
    runs = admin_client.get(f"/network/broadcasts/{broadcast_id}/runs").get_data(as_text=True)
    assert f"#{run_id}" in runs

    export = admin_client.get(base + "/export.csv")
    lines = export.get_data(as_text=True).strip().splitlines()
    assert export.mimetype == "text/csv" and lines[0].startswith("id,email,customer_id,status")
    assert len(lines) == 61 and sum(",failed," in line for line in lines) == 1
    assert admin_client.get(f"/network/broadcasts/{broadcast_id + 1}/runs/{run_id}").status_code == 404


def test_customers_cannot_reach_reports_or_api(app, db, client, smtp_sink, product):
    add_customers([("x@example.com", "X")], product)
    run = make_run(products=[product])
    login(client, make_user("someone@example.com"))
    page = client.get(f"/network/broadcasts/{run.broadcast_id}/runs/{run.id}")
    assert page.status_code == 403 and "x@example.com" not in page.get_data(as_text=True)
    api = client.get(f"/network/api/v1/delivery/runs/{run.id}")
    assert api.status_code == 403 and "total" not in api.get_data(as_text=True)
    token = csrf_token(client, "/login")
    paused = client.post(f"/network/api/v1/delivery/runs/{run.id}/pause", headers={"X-CSRFToken": token})
    assert paused.status_code == 403
    db.session.expire_all()
    assert db.session.get(BroadcastRun, run.id).status == "planning"


def test_a_run_stuck_in_planning_can_be_planned_again(app, db, runner, smtp_sink, product, jobs):
    add_customers([("stuck@example.com", "S")], product)
    run = make_run(products=[product])
    run_id = run.id
    run.started_at = None  # as if the planning job had died before committing
    db.session.commit()
    assert runner.invoke(args=["delivery", "pause", str(run_id)]).exit_code == 1  # nothing to pause yet
    assert runner.invoke(args=["delivery", "resume", str(run_id)]).exit_code == 0  # enqueues plan_run again
    jobs.work()
    assert smtp_sink.recipients() == ["stuck@example.com"]
    assert db.session.get(BroadcastRun, run_id).status == "sent"


def test_dashboard_lists_runs_being_sent(app, db, admin_client, smtp_sink, product, jobs):
    add_customers([("d@example.com", "D")], product)
    run = make_run(products=[product], subject="Dashboard news")
    assert "Broadcasts being sent" not in admin_client.get("/network/").get_data(as_text=True)
    _planned(jobs, run)
    page = admin_client.get("/network/").get_data(as_text=True)
    assert "Broadcasts being sent" in page and "Dashboard news" in page
    assert f"/network/broadcasts/{run.broadcast_id}/runs/{run.id}" in page


def _with_unknown(jobs, product, count=4, unknown=3):
    """A run sent to ``count`` customers whose first ``unknown`` rows are left unknown, as the
    reaper leaves them after a kill (one in SMTP, the others' record lost)."""
    add_customers([(f"u{i}@example.com", "U") for i in range(count)], product)
    run = make_run(products=[product])
    jobs.start(run)
    rows = _db.session.scalars(select(Delivery).where(Delivery.run_id == run.id).order_by(Delivery.id)).all()
    for row, reply in zip(rows[:unknown], (UNKNOWN_IN_SMTP, *[UNKNOWN_RECORD_LOST] * (unknown - 1))):
        row.status, row.reply = "unknown", reply
    _db.session.commit()
    return run, rows


def test_unknown_rows_are_counted_with_their_reason_and_resent_only_after_confirmation(
        app, db, runner, admin, client, smtp_sink, product, jobs):
    run, _ = _with_unknown(jobs, product)
    page = login(client, admin).get(f"/network/broadcasts/{run.broadcast_id}/runs/{run.id}").get_data(as_text=True)
    assert "Resend unknown (3)" in page and f"/runs/{run.id}/resend-unknown" in page
    assert str(escape(UNKNOWN_IN_SMTP)) in page and str(escape(UNKNOWN_RECORD_LOST)) in page
    progress = client.get(f"/network/api/v1/delivery/runs/{run.id}").get_json()
    assert progress["unknown_reasons"] == {UNKNOWN_IN_SMTP: 1, UNKNOWN_RECORD_LOST: 2}
    run.status = "cancelled"  # nothing of a cancelled run can be resent: no button that always fails
    db.session.commit()
    page = client.get(f"/network/broadcasts/{run.broadcast_id}/runs/{run.id}").get_data(as_text=True)
    assert "Resend unknown (" not in page
    run.status = "sent"
    db.session.commit()

    refused = runner.invoke(args=["delivery", "resend-unknown", str(run.id)], input="n\n")
    assert "3 recipient(s) of run" in refused.output and UNKNOWN_RECORD_LOST in refused.output
    assert "Send it again to these 3 recipient(s)?" in refused.output and refused.exit_code == 1
    assert _statuses(db, run.id)["unknown"] == 3
    done = runner.invoke(args=["delivery", "resend-unknown", str(run.id)], input="y\n")
    assert done.exit_code == 0 and "3 recipient(s) with an unknown outcome are queued again" in done.output
    jobs.work()
    assert _statuses(db, run.id) == Counter({"sent": 4})


def test_resend_unknown_on_the_page_is_confirmed_on_the_server_with_the_number(
        app, db, admin, client, smtp_sink, product, jobs):
    """Without JavaScript: a plain POST (the old button's) only asks; the confirmation page says how
    many and why and posts that number; a number that changed meanwhile resends nothing."""
    run, rows = _with_unknown(jobs, product)
    base = f"/network/broadcasts/{run.broadcast_id}/runs/{run.id}"
    login(client, make_user("someone@example.com"))
    assert client.get(base + "/resend-unknown").status_code == 403
    assert client.post(base + "/resend-unknown", data={"csrf_token": csrf_token(client, "/login"),
                                                       "expected": "3"}).status_code == 403
    login(client, admin)
    token = csrf_token(client, base)
    asked = client.post(base + "/resend-unknown", data={"csrf_token": token})
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "<strong>3</strong> recipient(s) with an unknown outcome" in page
    assert str(escape(UNKNOWN_IN_SMTP)) in page and "2 — " + str(escape(UNKNOWN_RECORD_LOST)) in page
    assert str(escape(resend_question(3))) in page
    assert _statuses(db, run.id)["unknown"] == 3, "a POST without the confirmed number resends nothing"
    form = browser_submission(client.get(base + "/resend-unknown").get_data(as_text=True),
                              base + "/resend-unknown")
    assert ("expected", "3") in form
    assert client.post(base + "/resend-unknown", data={"expected": "3"}).status_code == 400  # no CSRF

    rows[3].status, rows[3].reply = "unknown", UNKNOWN_RECORD_LOST  # one more while the admin reads
    db.session.commit()
    stale = client.post(base + "/resend-unknown", data=dict(form))
    page = stale.get_data(as_text=True)
    assert stale.status_code == 409 and "has 4 recipient(s) with an unknown outcome now, not the 3" in page
    assert _statuses(db, run.id)["unknown"] == 4
    form = browser_submission(page, base + "/resend-unknown")
    assert ("expected", "4") in form
    done = client.post(base + "/resend-unknown", data=dict(form), follow_redirects=True)
    assert "4 recipient(s) with an unknown outcome are queued again" in done.get_data(as_text=True)
    jobs.work()
    assert _statuses(db, run.id) == Counter({"sent": 4})
    assert [e.summary[:12] for e in audit_entries(action="run.resent_unknown")] == ["4 recipients"]
    nothing = client.get(base + "/resend-unknown", follow_redirects=True).get_data(as_text=True)
    assert f"Run {run.id} has no recipient with an unknown outcome." in nothing


def test_resend_unknown_by_api_needs_the_expected_number(app, db, admin, admin_client, smtp_sink, product, jobs):
    run, _ = _with_unknown(jobs, product)
    _, secret = issue_key(admin, "script")
    db.session.commit()
    keyed = admin_client.post(f"/api/v1/delivery/runs/{run.id}/resend-unknown",
                              headers={"Authorization": f"Bearer {secret}"})
    assert keyed.status_code == 422 and keyed.json["unknown"] == 3  # the API-key route: the same rule
    url = f"/network/api/v1/delivery/runs/{run.id}/resend-unknown"
    headers = {"X-CSRFToken": csrf_token(admin_client, "/network/")}
    bare = admin_client.post(url, headers=headers)
    assert bare.status_code == 422 and bare.json["unknown"] == 3
    assert '{"expected_unknown": 3}' in bare.json["error"] and resend_question(3) in bare.json["error"]
    assert bare.json["unknown_reasons"] == {UNKNOWN_IN_SMTP: 1, UNKNOWN_RECORD_LOST: 2}
    wrong = admin_client.post(url, headers=headers, json={"expected_unknown": "three"})
    assert wrong.status_code == 422 and "expected_unknown must be a whole number" in wrong.json["error"]
    for body, words in (({"expected_unknwon": 3}, "expected_unknwon: Unknown field"),
                        ({"expected_unknown": [3]}, "expected_unknown: Must be a whole number or text")):
        refused = admin_client.post(url, headers=headers, json=body)  # not a missing confirmation
        assert refused.status_code == 400 and words in refused.json["error"], refused.json
    stale = admin_client.post(url, headers=headers, json={"expected_unknown": 2})
    assert stale.status_code == 422 and "has 3 recipient(s) with an unknown outcome now, not the 2" in stale.json["error"]
    assert _statuses(db, run.id)["unknown"] == 3
    done = admin_client.post(url, headers=headers, json={"expected_unknown": 3})
    assert done.status_code == 200 and done.json["message"].startswith("3 recipient(s)")
    assert _statuses(db, run.id)["unknown"] == 0
