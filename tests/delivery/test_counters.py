"""The live counters of a run's ledger (kept by triggers, migration 0015) equal a recount of the
ledger after real sends: failures, retries, unknown outcomes resent, suppressions since planning,
a cancel, and two worker processes sending and cancelled at once."""
import time
from collections import Counter

from sqlalchemy import select

from app.broadcasts.models import BroadcastRun
from app.core.jobs import enqueue_now
from app.core.settings.services import set_option
from app.delivery import progress
from app.delivery.jobs import plan_run
from app.delivery.models import Delivery, DeliveryCount
from app.delivery.services import cancel_run, resend_unknown

from .conftest import add_customers, make_run, suppress
from .test_control import _once_after_first_batch
from .test_crash import _worker


def _recount(db, run_id) -> dict:
    """The counters, counted from the ledger row by row."""
    counts = Counter()
    for status, reason, sent_at in db.session.execute(
            select(Delivery.status, Delivery.reason, Delivery.sent_at).where(Delivery.run_id == run_id)):
        counts[f"status:{status}"] += 1
        if status == "skipped":
            counts[f"reason:{reason or ''}"] += 1
        if sent_at is not None:
            counts[f"sent_hour:{sent_at:%Y-%m-%dT%H}"] += 1
    return dict(counts)


def _counters(db, run_id) -> dict:
    db.session.expire_all()
    counters = Counter()
    for row in db.session.scalars(select(DeliveryCount).where(DeliveryCount.run_id == run_id)):
        counters[row.name] += row.value  # a counter is the sum of its shards (migration 0023)
    return {name: value for name, value in counters.items() if value}


def test_counters_equal_a_recount_after_failures_retries_and_a_resend(app, db, scripted_smtp, product, jobs):
    app.config["SMTP_URL"] = scripted_smtp.url
    set_option("delivery.retry_base_seconds", 0)
    set_option("delivery.max_attempts", 2)
    db.session.commit()
    scripted_smtp.rcpt = {"bad@example.com": "550 5.1.1 No such user",
                          "later@example.com": "451 4.3.0 Try again later"}
    scripted_smtp.data_end = {3: None}  # the connection drops after the 3rd message: unknown
    add_customers([(f"ok{i:02d}@example.com", "O") for i in range(12)]
                  + [("bad@example.com", "B"), ("later@example.com", "L"), ("gone@example.com", "G"),
                     ("new@example.com", "N"), ("OK00@example.com", "Twin")], product)
    suppress("gone@example.com", "unsubscribed")
    run = make_run(products=[product])
    run_id = run.id
    enqueue_now(plan_run, run_id, queue="delivery")
    jobs.work(max_jobs=1)  # planned; the chunks wait
    assert _counters(db, run_id) == _recount(db, run_id) == {"status:queued": 15, "status:skipped": 1,
                                                             "reason:unsubscribed": 1}
    suppress("new@example.com", "complained")  # since planning: skipped when claimed
    jobs.work()
    statuses = Counter(db.session.scalars(select(Delivery.status).where(Delivery.run_id == run_id)))
    assert statuses == {"sent": 11, "failed": 2, "unknown": 1, "skipped": 2}
    assert _counters(db, run_id) == _recount(db, run_id)

    assert resend_unknown(run_id, 1) == 1
    db.session.commit()
    jobs.work()
    counters = _counters(db, run_id)
    assert counters == _recount(db, run_id)
    assert (counters["status:sent"], counters["status:failed"], counters["reason:complained"]) == (12, 2, 1)
    snapshot = progress.snapshot(db.session.get(BroadcastRun, run_id))
    assert (snapshot["status"], snapshot["sent"], snapshot["processed"], snapshot["total"],
            snapshot["percent"]) == ("sent", 12, 15, 15, 100.0)
    assert progress.exclusion_counts(run_id) == {"unsubscribed": 1, "complained": 1, "duplicate": 1}


def test_a_cancelled_run_counts_and_shows_how_far_it_got(app, db, admin_client, smtp_sink, product, jobs):
    add_customers([(f"c{i:02d}@example.com", "C") for i in range(30)], product)
    run = make_run(products=[product])
    run_id, broadcast_id = run.id, run.broadcast_id
    _once_after_first_batch(app, lambda: _cancel(run_id))
    jobs.start(run)
    jobs.work()
    # batch 1, and batch 2 when it was sent before the cancel landed (a row each: the first claims)
    sent = len(smtp_sink.messages)
    assert sent in (1, 2)
    assert _counters(db, run_id) == _recount(db, run_id) == {
        "status:sent": sent, "status:skipped": 30 - sent, "reason:cancelled": 30 - sent,
        **{key: value for key, value in _recount(db, run_id).items() if key.startswith("sent_hour:")}}
    assert sum(v for k, v in _counters(db, run_id).items() if k.startswith("sent_hour:")) == sent
    snapshot = progress.snapshot(db.session.get(BroadcastRun, run_id))
    figures = (snapshot["sent"], snapshot["processed"], snapshot["cancelled"], snapshot["percent"])
    percent = round(sent * 100 / 30, 1)
    assert figures == (sent, sent, 30 - sent, percent)
    page = admin_client.get(f"/network/broadcasts/{broadcast_id}/runs/{run_id}").get_data(as_text=True)
    assert f"Cancelled after {sent} of 30" in page and f"{percent}</span>% processed" in page


def _cancel(run_id):
    from app.core.extensions import db

    cancel_run(run_id)
    db.session.commit()


def test_two_worker_processes_sending_and_a_cancel_keep_exact_counters(app, db, database_url, redis_database,
                                                                        tmp_path, smtp_sink, product, jobs):
    smtp_sink.delay = 0.01
    smtp_sink.cues = {f"w{i:03d}@example.com": ["550 5.1.1 No such user"] for i in range(0, 160, 7)}
    add_customers([(f"w{i:03d}@example.com", "W") for i in range(160)], product)
    run = make_run(products=[product])
    run_id = run.id
    enqueue_now(plan_run, run_id, queue="delivery")
    jobs.work(max_jobs=1)  # planned: eight chunk jobs wait for the two workers
    workers = [_worker(database_url, redis_database.url, tmp_path, smtp_sink.port) for _ in range(2)]
    try:
        deadline = time.monotonic() + 60
        while len(smtp_sink.messages) < 60 and time.monotonic() < deadline:
            time.sleep(0.01)
        cancel_run(run_id)  # while both send
        db.session.commit()
        for worker in workers:
            assert worker.wait(timeout=60) == 0
    finally:
        for worker in workers:
            worker.kill()
    jobs.work()
    counters = _counters(db, run_id)
    assert counters == _recount(db, run_id)
    assert 60 <= counters["status:sent"] < 160 - 23 and counters["reason:cancelled"] > 0
    assert counters["status:sent"] == len(smtp_sink.messages)
