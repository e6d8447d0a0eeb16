"""Temporary failures are retried with backoff up to a limit, permanent ones fail the recipient,
mailbox-level 5xx suppress the address, and a run pauses itself after failures in a row."""
from datetime import timedelta

from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from app.broadcasts.models import BroadcastRun
from app.core.extensions import db as _db
from app.core.jobs import get_queue
from app.core.settings.services import set_option
from app.core.utils import utcnow
from app.delivery.models import Delivery
from app.mail.suppression import Suppression

from .conftest import add_customers, make_run


def _settings(**values):
    for key, value in values.items():
        set_option(f"delivery.{key}", value)
    _db.session.commit()


def _rows(run_id):
    _db.session.expire_all()
    return {d.email: d for d in _db.session.scalars(select(Delivery).where(Delivery.run_id == run_id))}


def test_temporary_failure_is_retried_then_sent_once(app, db, smtp_sink, product, jobs):
    _settings(retry_base_seconds=0, max_attempts=3)
    smtp_sink.cues = {"later@example.com": ["451 4.3.0 Try again later", "250 OK"],
                      "never@example.com": ["452 4.2.2 Mailbox full"]}
    add_customers([("ok@example.com", "Ok"), ("later@example.com", "Later"),
                   ("never@example.com", "Never")], product)
    run = make_run(products=[product])
    jobs.start(run)

    rows = _rows(run.id)
    assert smtp_sink.recipients().count("later@example.com") == 1
    assert (rows["later@example.com"].status, rows["later@example.com"].attempts) == ("sent", 2)
    assert smtp_sink.attempts["never@example.com"] == 3
    assert rows["never@example.com"].status == "failed" and rows["never@example.com"].code == 452
    assert rows["never@example.com"].reply.startswith("gave up after 3 attempts: 452")
    assert db.session.get(Suppression, "never@example.com") is None  # temporary: no bounce
    assert db.session.get(BroadcastRun, run.id).status == "sent"


def test_backoff_defers_and_schedules_a_retry(app, db, smtp_sink, product, jobs):
    _settings(retry_base_seconds=120, max_attempts=5)
    smtp_sink.cues = {"slow@example.com": ["421 4.7.0 Too busy"]}
    add_customers([("slow@example.com", "Slow")], product)
    run = make_run(products=[product])
    before = utcnow()
    jobs.start(run)

    row = _rows(run.id)["slow@example.com"]
    assert row.status == "deferred" and row.attempts == 1 and row.code == 421
    assert before + timedelta(seconds=115) <= row.next_attempt_at <= utcnow() + timedelta(seconds=125)
    scheduled = ScheduledJobRegistry(queue=get_queue("delivery"))
    functions = {get_queue("delivery").fetch_job(job_id).func_name for job_id in scheduled.get_job_ids()}
    assert "app.delivery.jobs.retry_deferred" in functions
    assert db.session.get(BroadcastRun, run.id).status == "sending"  # not finished while deferred


def test_mailbox_rejection_fails_and_suppresses_but_policy_rejection_does_not(app, db, smtp_sink, product,
                                                                              jobs):
    smtp_sink.cues = {"nobody@example.com": ["550 5.1.1 No such user"],
                      "relay@example.com": ["550 5.7.1 Relaying denied"],
                      "bad@example.com": ["554 5.6.0 Message rejected"]}
    add_customers([("nobody@example.com", "N"), ("relay@example.com", "R"), ("bad@example.com", "B"),
                   ("fine@example.com", "F")], product)
    run = make_run(products=[product])
    jobs.start(run)

    rows = _rows(run.id)
    assert {e: d.status for e, d in rows.items()} == {"nobody@example.com": "failed", "relay@example.com": "failed",
                                                       "bad@example.com": "failed", "fine@example.com": "sent"}
    assert all(smtp_sink.attempts[e] == 1 for e in ("nobody@example.com", "relay@example.com", "bad@example.com"))
    bounce = db.session.get(Suppression, "nobody@example.com")
    assert (bounce.reason, bounce.source) == ("bounced", "smtp") and "5.1.1" in bounce.detail
    assert db.session.get(Suppression, "relay@example.com") is None
    assert db.session.get(Suppression, "bad@example.com") is None
    # The run's counters and the engagement report see the same outcome.
    db.session.refresh(run)
    assert (run.sent, run.failed) == (1, 3)
    from app.tracking.report import engagement_summary
    assert engagement_summary(run.id).hard_bounces == 1
    # The bounced address is left out of the next run's planning.
    second = make_run(products=[product])
    jobs.start(second)
    assert (_rows(second.id)["nobody@example.com"].status, _rows(second.id)["nobody@example.com"].reason) == \
        ("skipped", "bounced")


def test_run_pauses_itself_after_consecutive_failures(app, db, product, jobs):
    _settings(pause_after_failures=4, retry_base_seconds=300)
    app.config["SMTP_URL"] = "smtp://127.0.0.1:9"  # nothing listens: every attempt fails (421)
    add_customers([(f"down{i:02d}@example.com", "D") for i in range(30)], product)
    run = make_run(products=[product])
    jobs.start(run)

    run = db.session.get(BroadcastRun, run.id)
    db.session.refresh(run)
    assert run.status == "paused" and run.broadcast.status == "paused"
    assert "consecutive failures" in run.status_reason and "421" in run.status_reason
    statuses = [d.status for d in _rows(run.id).values()]
    assert statuses.count("deferred") < 10 and statuses.count("queued") > 20
    jobs.work()  # nothing more happens while paused
    assert [d.status for d in _rows(run.id).values()].count("queued") == statuses.count("queued")


def test_the_run_pauses_at_the_threshold_not_a_batch_later(app, db, smtp_sink, product, jobs):
    """The streak is looked at per outcome, not once per batch: with a batch of 100 and a server
    refusing everyone with 451, a threshold of 5 pauses the run after 5 failures (until
    2026-12-01 after the whole batch: 40 here, 316 with the default 50 in the fresh-clone review);
    the rows of the batch never tried are given back untouched, no attempt used."""
    _settings(pause_after_failures=5, retry_base_seconds=300)
    app.config.update(DELIVERY_CHUNK_SIZE=500, DELIVERY_BATCH_SIZE=100)
    addresses = [f"busy{i:02d}@example.com" for i in range(40)]
    smtp_sink.cues = {address: ["451 4.3.0 Try again later"] for address in addresses}
    add_customers([(address, "B") for address in addresses], product)
    run = make_run(products=[product])
    jobs.start(run)

    run = db.session.get(BroadcastRun, run.id)
    db.session.refresh(run)
    rows = _rows(run.id).values()
    tried = [d for d in rows if d.status == "deferred"]
    assert run.status == "paused" and 5 <= len(tried) <= 6
    assert f"after {len(tried)} consecutive failures" in run.status_reason and "451" in run.status_reason
    assert all(d.status == "queued" and d.attempts == 0 for d in rows if d not in tried)
    assert sum(smtp_sink.attempts.values()) == len(tried), "no RCPT for the rows given back"


def test_a_reply_lost_after_the_final_dot_is_unknown_and_never_sent_twice(app, db, smtp_sink, product, jobs):
    smtp_sink.hang_up = {"hangup@example.com"}  # the server keeps the message, then drops the line
    add_customers([("hangup@example.com", "H"), ("fine@example.com", "F")], product)
    run = make_run(products=[product])
    jobs.start(run)

    rows = _rows(run.id)
    assert rows["hangup@example.com"].status == "unknown"
    assert rows["hangup@example.com"].reply.startswith("outcome unknown: the connection failed after the message was sent")
    assert rows["fine@example.com"].status == "sent"
    assert smtp_sink.recipients().count("hangup@example.com") == 1, "not retried as a 4xx would be"
    run = db.session.get(BroadcastRun, run.id)
    assert run.status == "sent"
    # no worker stopped: the reason is the row's own ("a worker stopped while sending" until 2026-12-01)
    assert run.status_reason == ("1 recipient(s) unknown (their message may have been delivered): "
                                 + rows["hangup@example.com"].reply.removeprefix("outcome unknown: ") + ".")


def test_a_finished_runs_reason_says_why_its_rows_are_unknown_from_their_replies(app, db, runner, smtp_sink,
                                                                                product, jobs):
    """Review E (2026-12-01): the server dropped the connection after a message's content, and the
    finished run said "1 recipient(s) unknown: a worker stopped while sending to them." though no
    worker stopped. The reason is made of the rows' own replies, each cause counted: here a
    dead job's claim settled without its record (the reaper's reply) and a reply lost to a
    hang-up (the transport's)."""
    from app.delivery import reaper

    from .test_claims import _claim, _planned

    run_id = _planned(jobs, product, 8)  # c00 ... c07
    dead = _claim(db, run_id, "diedjob", size=2)  # no lease, no record: the job is gone
    assert reaper.settle(run_id, "diedjob") == 2
    db.session.commit()
    smtp_sink.hang_up = {"c05@example.com"}
    jobs.work()

    rows = _rows(run_id)
    hung_up = rows["c05@example.com"].reply
    assert [email for email, row in sorted(rows.items()) if row.status == "unknown"] == [
        "c00@example.com", "c01@example.com", "c05@example.com"] and len(dead) == 2
    assert hung_up.startswith("outcome unknown: the connection failed after the message was sent")
    run = db.session.get(BroadcastRun, run_id)
    assert run.status == "sent"
    assert run.status_reason == (
        "3 recipient(s) unknown (their message may have been delivered): "
        f"2 {reaper.UNKNOWN_RECORD_LOST.removeprefix('outcome unknown: ')}; "
        f"1 {hung_up.removeprefix('outcome unknown: ')}."), run.status_reason
    assert "a worker stopped while sending" not in run.status_reason
    status = runner.invoke(args=["delivery", "status", str(run_id)]).output
    assert run.status_reason in status


def test_replies_with_control_characters_are_written_to_the_ledger(app, db, smtp_sink, product, jobs):
    """A NUL in a server's reply failed the batch's outcome write on PostgreSQL (every outcome of
    the batch, again at each retry): the reply is kept with its controls written visibly."""
    _settings(retry_base_seconds=3600, max_attempts=3)
    smtp_sink.cues = {"soft@example.com": ["451 4.3.0 later\x00\x1b[2J"],
                      "hard@example.com": ["550 5.1.1 no\x00such user"]}
    add_customers([("ok@example.com", "Ok"), ("soft@example.com", "Soft"), ("hard@example.com", "Hard")],
                  product)
    run = make_run(products=[product])
    jobs.start(run)

    rows = _rows(run.id)
    assert (rows["ok@example.com"].status, rows["ok@example.com"].code) == ("sent", 250)
    assert (rows["soft@example.com"].status, rows["soft@example.com"].reply) == (
        "deferred", "451 4.3.0 later\\x00\\x1b[2J")
    assert (rows["hard@example.com"].status, rows["hard@example.com"].reply) == (
        "failed", "550 5.1.1 no\\x00such user")


def test_two_senders_pause_the_run_at_the_threshold_together(app, db, product):
    """Each sender asks Redis after every failure, so the run's streak is every sender's: two
    senders of one run, each meeting refusals in turn, reach a threshold of 6 after 6 failures in
    all (until 2026-12-01 each counted up to the threshold in memory before asking: 10 here, one
    streak per sender, on the real shared streak in Redis)."""
    from app.delivery.outcomes import Outcome
    from app.delivery.progress import Streak, reset_streak

    reset_streak(4242)
    senders = [Streak(4242, 6), Streak(4242, 6)]
    failures = 0
    while not any(sender.reason for sender in senders) and failures < 20:
        sender = senders[failures % 2]
        sender.add([Outcome(failures, f"r{failures}@example.com", "deferred", 451, "451 4.3.0 busy")])
        failures += 1
    assert failures == 6 and "after 6 consecutive failures" in (senders[1].reason or "")
    reset_streak(4242)
    sent_between = [Streak(4242, 3), Streak(4242, 3)]  # a sent one starts the streak again
    for index, status in enumerate(["deferred", "deferred", "sent", "deferred", "deferred"]):
        sent_between[index % 2].add([Outcome(index, "x@example.com", status, 451, "451")])
    assert not any(sender.reason for sender in sent_between)
    reset_streak(4242)
