"""A real worker process SIGKILLed in the middle of a broadcast: after a restart nobody gets the
message twice, nobody planned is left unsent without the report saying so (unknown), and only the
message inside its SMTP transaction at the kill is unknown (the write-ahead record has the rest)."""
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from app.broadcasts.models import BroadcastRun
from app.delivery import reaper
from app.delivery.claims import claimed_ids
from app.delivery.jobs import plan_run
from app.delivery.models import Delivery
from app.delivery.services import resend_unknown
from app.testing.settings import PREFIX
from tests.faults import report

from .conftest import add_customers, make_run

ROOT = Path(__file__).resolve().parents[2]


def _worker(database_url, redis_url, tmp_path, smtp_port):
    env = dict(os.environ, FLASK_APP="wsgi", DATABASE_URL=database_url, REDIS_URL=redis_url,
               HERALD_PREFIX=PREFIX, SECRET_KEY="test-secret", HERALD_INSTANCE=str(tmp_path),
               SMTP_URL=f"smtp://127.0.0.1:{smtp_port}", MAIL_FROM="Herald <noreply@herald.test>",
               BASE_URL="http://herald.test", DELIVERY_CHUNK_SIZE="20", DELIVERY_BATCH_SIZE="5",
               DELIVERY_LEASE_SECONDS="2")
    return subprocess.Popen([sys.executable, "-m", "flask", "rq", "worker", "--burst", "--simple",
                             "--queues", "delivery"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _held(db, run_id):
    """The rows sending jobs hold (their claims, migration 0022), as {id: email}."""
    ids = claimed_ids(run_id)
    held = {d.id: d.email for d in db.session.scalars(select(Delivery).where(Delivery.id.in_(ids)))}
    db.session.rollback()
    return held


def _statuses(db, run_id):
    db.session.expire_all()
    return {d.email: d.status for d in db.session.scalars(select(Delivery).where(Delivery.run_id == run_id))}


def _planned(addresses, product, jobs):
    """A run to ``addresses`` (customers of ``product``), planned: its chunk jobs wait in RQ."""
    add_customers([(address, "P") for address in addresses], product)
    run_id = make_run(products=[product]).id
    from app.core.jobs import enqueue_now
    enqueue_now(plan_run, run_id, queue="delivery")
    jobs.work(max_jobs=1)
    return run_id


def _kill_once(victim, ready, then: float) -> None:
    """SIGKILL ``victim``'s process group ``then`` seconds after ``ready()`` (at most 60 s)."""
    deadline = time.monotonic() + 60
    while not ready() and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.005)
    time.sleep(then)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()


def test_sigkilled_worker_never_duplicates_and_never_loses_silently(app, db, database_url, redis_database,
                                                                    tmp_path, smtp_sink, product, jobs):
    smtp_sink.delay = 0.02  # 50 messages/s: the kill lands in the middle of the run
    add_customers([(f"k{i:02d}@example.com", "K") for i in range(60)], product)
    run = make_run(products=[product])
    run_id = run.id
    from app.core.jobs import enqueue_now
    enqueue_now(plan_run, run_id, queue="delivery")
    jobs.work(max_jobs=1)  # planned, three chunk jobs wait in RQ

    victim = _worker(database_url, redis_database.url, tmp_path, smtp_sink.port)
    deadline = time.monotonic() + 60
    while len(smtp_sink.messages) < 12 and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.01)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    assert 12 <= len(smtp_sink.messages) < 60, "the kill must land mid-run"
    sent_before_restart = Counter(smtp_sink.recipients())
    in_flight = list(_held(db, run_id).values())
    assert len(in_flight) <= 10  # at most the batch being sent and the one claimed ahead

    time.sleep(2.5)  # the dead worker's lease expires
    survivor = _worker(database_url, redis_database.url, tmp_path, smtp_sink.port)
    assert survivor.wait(timeout=120) == 0
    reaper.supervise(run_id, thorough=True)  # what the supervisor in every worker does
    jobs.work()

    statuses = _statuses(db, run_id)
    received = Counter(smtp_sink.recipients())
    assert max(received.values()) == 1, "nobody gets the message twice"
    assert set(statuses.values()) <= {"sent", "unknown"}, "nothing is left pending"
    unknown = {e for e, s in statuses.items() if s == "unknown"}
    report("sigkill", dialect=db.engine.dialect.name, batch=5, held_at_kill=len(in_flight),
           unknown=len(unknown), unknown_delivered=len(unknown & set(received)))
    assert unknown <= set(in_flight) and len(unknown) <= 1, \
        "only the message inside its SMTP transaction at the kill is unknown"
    assert all(statuses[e] == "sent" for e in set(in_flight) & set(sent_before_restart) - unknown), \
        "what the killed worker delivered is known from its write-ahead record"
    assert {e for e, s in statuses.items() if s == "sent"} == set(received) - unknown
    assert set(statuses) - set(received) <= unknown, "every address not received is reported"
    assert all(e not in sent_before_restart or statuses[e] in ("sent", "unknown") for e in statuses)
    run = db.session.get(BroadcastRun, run_id)
    assert run.status == "sent"
    if unknown:
        assert f"{len(unknown)} recipient(s) unknown" in run.status_reason
        assert reaper.UNKNOWN_IN_SMTP.removeprefix("outcome unknown: ") in run.status_reason, \
            "the reason the rows themselves give"
        # The admin's explicit choice: send the unknown ones again.
        assert resend_unknown(run_id, len(unknown)) == len(unknown)
        jobs.work()
        assert set(_statuses(db, run_id).values()) == {"sent"}
        assert db.session.get(BroadcastRun, run_id).status == "sent"


def test_a_kill_while_a_reply_is_awaited_leaves_only_that_message_unknown(app, db, database_url,
                                                                          redis_database, tmp_path,
                                                                          smtp_sink, product, jobs):
    """Pipelined (RFC 2920): a batch's first message's (p0's) final dot goes out in the same write
    as the next envelope (p1ü, refused by Herald before any word to the server, does not count,
    so p2's); the worker is killed while it waits for p0's reply. Only p0 is unknown (its content
    had reached the server; the test sink drops it when the client goes, a real server might
    deliver it); the refusal recorded before the kill is written; the rest, p2 included (its
    envelope accepted, its content never sent), are sent once."""
    # The first two claims of a job hold a row each (sending.FIRST_CLAIM): a0 and a1 go first, at
    # once (the ledger is in address order); the third claim, sized by the rate measured, is a
    # batch of five from p0.
    addresses = ["a0@example.com", "a1@example.com", "p0@example.com", "p1ü@example.com",
                 *(f"p{i}@example.com" for i in range(2, 6))]
    smtp_sink.smtputf8, smtp_sink.slow = False, {"p0@example.com": 8}  # the reply to p0's dot 8 s late
    run_id = _planned(addresses, product, jobs)
    victim = _worker(database_url, redis_database.url, tmp_path, smtp_sink.port)
    # 0.3 s after p0's content arrived the worker waits for the reply to its dot
    _kill_once(victim, lambda: smtp_sink.data_started >= 3, 0.3)
    held = sorted(_held(db, run_id).items())
    # the batch of five and the one row claimed ahead of it
    assert smtp_sink.data_started == 3 and [email for _, email in held] == addresses[2:]

    smtp_sink.slow = {}
    time.sleep(2.5)  # the dead worker's lease expires
    survivor = _worker(database_url, redis_database.url, tmp_path, smtp_sink.port)
    assert survivor.wait(timeout=120) == 0
    reaper.supervise(run_id, thorough=True)
    jobs.work()

    statuses = _statuses(db, run_id)
    assert statuses == {addresses[2]: "unknown", addresses[3]: "failed",
                        **{address: "sent" for address in addresses[:2] + addresses[4:]}}, \
        "only the message whose dot went out and whose reply was not read is unknown"
    assert Counter(smtp_sink.recipients()) == Counter(addresses[:2] + addresses[4:]), \
        "the rest sent once each, p2 too: its open envelope was not a send"
    assert smtp_sink.data_started == 7, "the unknown one's content reached the server once, never again"
    assert db.session.get(Delivery, held[0][0]).reply == reaper.UNKNOWN_IN_SMTP


def test_two_worker_processes_send_one_run_in_parallel(app, db, database_url, redis_database, tmp_path,
                                                       smtp_sink, product, jobs):
    smtp_sink.delay = 0.08  # seconds per message: both workers start well within the run, even under load
    add_customers([(f"w{i:02d}@example.com", "W") for i in range(80)], product)
    run = make_run(products=[product])
    run_id = run.id
    from app.core.jobs import enqueue_now
    enqueue_now(plan_run, run_id, queue="delivery")
    jobs.work(max_jobs=1)  # planned: four chunks wait, with four runner jobs
    workers = [_worker(database_url, redis_database.url, tmp_path, smtp_sink.port) for _ in range(2)]
    assert all(worker.wait(timeout=120) == 0 for worker in workers)

    received = Counter(smtp_sink.recipients())
    assert len(received) == 80 and max(received.values()) == 1
    spans = {}
    for message in smtp_sink.messages:
        first, last = spans.get(message.peer, (message.at, message.at))
        spans[message.peer] = (min(first, message.at), max(last, message.at))
    assert len(spans) >= 2, "both workers sent"
    (a_start, a_end), (b_start, b_end) = sorted(spans.values())[:2]
    assert b_start < a_end, "at the same time"
    assert set(_statuses(db, run_id).values()) == {"sent"}


def test_a_kill_while_waiting_for_a_rate_limit_slot_leaves_nothing_unknown(app, db, database_url,
                                                                             redis_database, tmp_path,
                                                                             smtp_sink, product, jobs):
    """At 1/s the worker sleeps about a second before each message, its previous message flushed
    and answered: nothing is open on the SMTP connection. Killed in that sleep, its record names
    the next row as waiting for its slot (``wal.waiting``), so the reaper queues it again with the
    rest instead of calling it unknown ("the worker stopped after this message was sent"): every
    row is sent once, none unknown. Before the marker the waiting row was unknown."""
    from app.core.settings.services import set_option
    set_option("delivery.rate_per_second", "1/s")
    db.session.commit()
    addresses = [f"slot{i}@example.com" for i in range(5)]
    run_id = _planned(addresses, product, jobs)
    victim = _worker(database_url, redis_database.url, tmp_path, smtp_sink.port)
    # 0.4 s after the second message: answered and recorded, the next slot 0.6 s away
    _kill_once(victim, lambda: len(smtp_sink.messages) >= 2, 0.4)
    delivered = Counter(smtp_sink.recipients())
    held = _held(db, run_id)
    assert len(delivered) == 2 and held and not set(held.values()) & set(delivered), \
        "killed while it slept: it held rows it had not begun"

    time.sleep(2.5)  # the dead worker's lease expires
    reaper.supervise(run_id, thorough=True)  # the reaper settles the dead job's claim
    db.session.commit()  # as the supervisor does
    assert set(_statuses(db, run_id).values()) == {"sent", "queued"}, "nothing unknown"
    survivor = _worker(database_url, redis_database.url, tmp_path, smtp_sink.port)
    assert survivor.wait(timeout=120) == 0
    reaper.supervise(run_id, thorough=True)
    jobs.work()

    report("sigkill-waiting-for-slot", dialect=db.engine.dialect.name, held_at_kill=len(held))
    assert _statuses(db, run_id) == dict.fromkeys(addresses, "sent")
    assert Counter(smtp_sink.recipients()) == Counter(addresses), "everyone once"
    assert db.session.get(BroadcastRun, run_id).status == "sent"
