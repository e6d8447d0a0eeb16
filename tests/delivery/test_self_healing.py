"""Self-healing under real faults, with real worker processes: the database cut off mid-send, Redis
restarted empty mid-send, the supervisor's worker SIGKILLed. Nobody gets a message twice, the
run finishes by itself, and the figures measured go to HERALD_FAULT_REPORT (tests/faults.py)."""
import json
import time
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from app.broadcasts.models import Broadcast, BroadcastRun, BroadcastTarget
from app.core.jobs import enqueue_now, get_queue
from app.core.settings.services import set_option
from app.core.utils import utcnow
from app.delivery.chunks import track
from app.delivery.jobs import plan_run
from app.delivery.services import resume_run
from app.delivery.claims import claimed_ids
from app.delivery.models import Delivery, DeliveryClaim
from app.scheduling.rules import RuleSpec
from app.scheduling.services import save_schedule
from app.testing.settings import PREFIX
from tests.faults import (
    LEASE_SECONDS,
    OUTAGE_SECONDS,
    SUPERVISOR_SECONDS,
    RedisServer,
    SQLiteWriteLock,
    TcpProxy,
    Workers,
    report,
    wait_for,
)

from .conftest import add_customers, make_run

pytestmark = pytest.mark.committed  # worker processes read what the tests write


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own, which it may restart empty."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def app_config(request):
    """On the private Redis when the test has one."""
    config = {"MAIL_FROM": "Herald <noreply@herald.test>"}
    if "private_redis" in request.fixturenames:
        config["REDIS_URL"] = request.getfixturevalue("private_redis").url
    return config


def _workers(tmp_path, database_url, redis_url, smtp_sink, **extra) -> Workers:
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "HERALD_PREFIX": PREFIX,
           "SECRET_KEY": "test-secret", "HERALD_INSTANCE": tmp_path, "BASE_URL": "http://herald.test",
           "SMTP_URL": f"smtp://127.0.0.1:{smtp_sink.port}", "MAIL_FROM": "Herald <noreply@herald.test>",
           "DELIVERY_CHUNK_SIZE": 40, "DELIVERY_BATCH_SIZE": 20, "DELIVERY_LEASE_SECONDS": LEASE_SECONDS,
           "JOB_LEASE_SECONDS": LEASE_SECONDS, "SUPERVISOR_SECONDS": SUPERVISOR_SECONDS, **extra}
    return Workers(env, tmp_path / "worker-logs")


def _status(db, run_id) -> str:
    status = db.session.scalar(select(BroadcastRun.status).where(BroadcastRun.id == run_id))
    db.session.rollback()
    return status


def _counts(db, run_id) -> dict:
    rows = db.session.execute(select(Delivery.status, func.count()).where(Delivery.run_id == run_id)
                              .group_by(Delivery.status)).all()
    db.session.rollback()
    return dict(rows)


def _start(run_id) -> None:
    enqueue_now(plan_run, run_id, queue="delivery", track=track(run_id))


def _finished(db, run_id, timeout, workers) -> float:
    """Wait for the run to finish; returns when (monotonic)."""
    try:
        wait_for(lambda: _status(db, run_id) in ("sent", "failed", "paused", "cancelled"), timeout,
                 interval=0.2, what=f"run {run_id} to finish")
    except AssertionError:
        raise AssertionError(f"run {run_id} did not finish: {_counts(db, run_id)}\n{workers.logs()}")
    return time.monotonic()


def _started(smtp_sink, messages: int, workers) -> None:
    try:
        wait_for(lambda: len(smtp_sink.messages) >= messages, 60, what="the send to start")
    except AssertionError:
        raise AssertionError(f"the send did not start\n{workers.logs()}") from None


def _up_for_an_hour(client) -> None:
    """Date the Redis epoch an hour back: the test emptied Redis, but production's Redis has held
    its data for long, so a missing lease is trusted at once (``app.core.leases.settled``)."""
    run_id = client.info("server")["run_id"]
    client.set(f"{PREFIX}:epoch", f"{run_id}:{int(client.time()[0]) - 3600}")


def _holder_pid(client, lock: str) -> int:
    """The main pid of the worker holding ``lock``: Herald's supervisor lease ("supervisor") or
    RQ's scheduler lock of the delivery queue ("rq_scheduler", held by a process it forked)."""
    if lock == "supervisor":
        holder = wait_for(lambda: client.get(f"{PREFIX}:supervisor"), 30, what="a supervisor")
        return int(holder.decode().split(":")[1])
    name = wait_for(lambda: client.get(f"rq:scheduler-lock:{PREFIX}:delivery"), 30, what="RQ's scheduler")
    pid = int(wait_for(lambda: client.hget(f"rq:scheduler:{name.decode()}", "pid"), 30,
                       what="RQ's scheduler to register"))
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])  # its parent


def _once_each(smtp_sink, expected: int) -> Counter:
    received = Counter(smtp_sink.recipients())
    assert max(received.values()) == 1, "nobody gets the message twice"
    assert len(received) <= expected
    return received


def _sending(workers, redis_url, smtp_sink, run_id, started: int = 30) -> None:
    """Start w1 (with RQ's scheduler) and w2, start the run, wait until ``started`` messages
    reached the sink."""
    workers.start("w1", "--with-scheduler")
    workers.start("w2")
    workers.wait_ready(redis_url)
    _start(run_id)
    _started(smtp_sink, started, workers)


@contextmanager
def _cut(fault):
    """The database away (``fault``, from ``_outage``) inside the block, back after it."""
    fault.cut()
    try:
        yield
    finally:
        fault.restore()


def _outage(database_url):
    """The database's outage for this dialect: the TCP proxy cut (PostgreSQL), or SQLite's write
    lock held (every writer then fails with "database is locked" after a 1 s busy timeout)."""
    if database_url.startswith("sqlite"):
        return SQLiteWriteLock(database_url), database_url, {"SQLITE_BUSY_SECONDS": 1}
    parts = urlsplit(database_url)
    proxy = TcpProxy(parts.hostname, parts.port or 5432).start()
    return proxy, proxy.url(database_url), {}


def test_database_outage_mid_send_heals_by_itself(app, db, database_url, redis_database, tmp_path,
                                                  smtp_sink, product):
    smtp_sink.delay = 0.03
    add_customers([(f"o{i:03d}@example.com", "O") for i in range(160)], product)
    run_id = make_run(products=[product]).id
    fault, worker_url, extra = _outage(database_url)
    workers = _workers(tmp_path, worker_url, redis_database.url, smtp_sink, **extra)
    try:
        _sending(workers, redis_database.url, smtp_sink, run_id)
        with _cut(fault):
            before = len(smtp_sink.messages)
            time.sleep(OUTAGE_SECONDS)
            during = len(smtp_sink.messages) - before
        back = time.monotonic()
        done = _finished(db, run_id, 120, workers)
        alive = workers.alive()
    finally:
        workers.stop_all()
    counts = _counts(db, run_id)
    report("database_outage", dialect=db.engine.dialect.name, outage_seconds=OUTAGE_SECONDS,
           finished_after_return_seconds=round(done - back, 1), sent_during_outage=during,
           unknown=counts.get("unknown", 0), workers_alive=len(alive))
    assert _status(db, run_id) == "sent"
    assert counts == {"sent": 160}, "no row unknown, none left behind"
    assert len(_once_each(smtp_sink, 160)) == 160
    assert alive == ["w1", "w2"], "the workers survive the outage"
    assert done - back < 60, "the run finishes within a minute of the database's return"


def test_redis_restarted_empty_mid_send_heals_by_itself(app, db, database_url, tmp_path, smtp_sink,
                                                         product, private_redis):
    smtp_sink.delay = 0.03
    add_customers([(f"r{i:03d}@example.com", "R") for i in range(160)], product)
    run_id = make_run(products=[product]).id
    workers = _workers(tmp_path, database_url, private_redis.url, smtp_sink)
    try:
        _sending(workers, private_redis.url, smtp_sink, run_id)
        private_redis.restart_empty(down_seconds=2)
        back = time.monotonic()
        done = _finished(db, run_id, 120, workers)
        alive = workers.alive()
    finally:
        workers.stop_all()
    counts = _counts(db, run_id)
    report("redis_restarted_empty", dialect=db.engine.dialect.name, down_seconds=2,
           finished_after_return_seconds=round(done - back, 1), unknown=counts.get("unknown", 0))
    assert _status(db, run_id) == "sent"
    assert alive == ["w1", "w2"], "the workers reconnect rather than exit"
    assert counts == {"sent": 160}, "workers that survive write what they sent: nothing unknown"
    assert len(_once_each(smtp_sink, 160)) == 160


def test_redis_refusing_the_record_stops_the_send_before_a_kill_can_duplicate(
        app, db, database_url, tmp_path, smtp_sink, product, private_redis):
    """Redis refusing writes mid-send (``maxmemory`` with ``noeviction``: OOM) with the failure
    streak's pause off: the write-ahead record's replies were read only at the batch's end, so
    the loop went on sending with outcomes only in memory, and a SIGKILL then had the reaper
    queue them again (10-11 duplicates in 2 of 3 runs of the review). The loop now sees the
    refusal one message later and stops, writing what it sent to the ledger."""
    set_option("delivery.pause_after_failures", 0)  # "never": the Lua streak check no longer stops it
    db.session.commit()
    smtp_sink.delay = 0.02
    add_customers([(f"o{i:03d}@example.com", "O") for i in range(200)], product)
    run_id = make_run(products=[product]).id
    workers = _workers(tmp_path, database_url, private_redis.url, smtp_sink)
    client = redis.Redis.from_url(private_redis.url)
    try:
        workers.start("w1", "--with-scheduler")
        workers.wait_ready(private_redis.url)
        _start(run_id)
        _started(smtp_sink, 40, workers)
        client.config_set("maxmemory", 1)
        refused_at = len(smtp_sink.messages)
        deadline = time.monotonic() + 3
        while len(smtp_sink.messages) < refused_at + 30 and time.monotonic() < deadline:
            time.sleep(0.01)
        sent_after = len(smtp_sink.messages) - refused_at
        workers.kill("w1")
        client.config_set("maxmemory", 0)
        time.sleep(LEASE_SECONDS + 1)
        workers.start("w2", "--with-scheduler")
        wait_for(lambda: _status(db, run_id) in ("paused", "sent"), 60, what="the run pauses or ends")
        reason = db.session.scalar(select(BroadcastRun.status_reason).where(BroadcastRun.id == run_id))
        paused = _status(db, run_id) == "paused"
        db.session.rollback()
        if paused:  # a full Redis is the operator's to fix: the run says why and waits
            resume_run(run_id)
            db.session.commit()
        _finished(db, run_id, 90, workers)
    finally:
        workers.stop_all()
    counts = _counts(db, run_id)
    report("redis_refuses_the_record", dialect=db.engine.dialect.name, sent_after_refusal=sent_after,
           unknown=counts.get("unknown", 0), paused=paused, reason=reason)
    assert sent_after <= 3, "the loop stops one message after the refusal (and the one in flight)"
    assert not paused or "OOM" in (reason or "") or "memory" in (reason or ""), reason
    assert _status(db, run_id) == "sent"
    assert sum(counts.values()) == 200 and counts.get("unknown", 0) <= 1
    assert len(_once_each(smtp_sink, 200)) == 200 - counts.get("unknown", 0)


def test_a_sending_worker_outlives_redis_down_longer_than_its_first_reconnect_waits(
        app, db, database_url, tmp_path, smtp_sink, product, private_redis):
    """A job that meets Redis down ends RQ's loop; making the next worker needs Redis too (its
    name, its address), so while Redis stays down the worker waits 1, 2, 4 … s and tries again
    instead of exiting (it used to exit when Redis was still down at the first try, after 1 s)."""
    smtp_sink.delay = 0.03
    add_customers([(f"i{i:02d}@example.com", "I") for i in range(80)], product)
    run_id = make_run(products=[product]).id
    workers = _workers(tmp_path, database_url, private_redis.url, smtp_sink)
    try:
        workers.start("w1", "--with-scheduler")
        workers.wait_ready(private_redis.url)
        _start(run_id)
        _started(smtp_sink, 10, workers)
        private_redis.restart_empty(down_seconds=5)
        _finished(db, run_id, 120, workers)
        alive = workers.alive()
    finally:
        workers.stop_all()
    assert alive == ["w1"], "the worker waits for Redis rather than exit"
    assert _status(db, run_id) == "sent" and len(_once_each(smtp_sink, 80)) == 80


@pytest.mark.parametrize("victim", ["supervisor", "rq_scheduler"])
def test_a_killed_worker_batch_is_taken_over_within_the_lease_whichever_worker_died(
        app, db, database_url, redis_database, tmp_path, smtp_sink, product, victim):
    smtp_sink.delay = 0.04
    add_customers([(f"k{i:03d}@example.com", "K") for i in range(200)], product)
    run_id = make_run(products=[product]).id
    workers = _workers(tmp_path, database_url, redis_database.url, smtp_sink)
    try:
        workers.start("w1", "--with-scheduler")
        workers.start("w2", "--with-scheduler")
        workers.wait_ready(redis_database.url)
        name = workers.by_pid(_holder_pid(app.extensions["herald_redis"], victim))
        _up_for_an_hour(app.extensions["herald_redis"])
        _start(run_id)

        def both_sending():  # two claims (migration 0022: one row per job's batch)
            held = db.session.execute(select(DeliveryClaim.token, DeliveryClaim.ids)
                                      .where(DeliveryClaim.run_id == run_id)).all()
            db.session.rollback()
            return [(row_id, token) for token, ids in held for row_id in json.loads(ids)] \
                if len(held) == 2 else None
        _started(smtp_sink, 20, workers)
        held = wait_for(both_sending, 30, interval=0.02, what="both workers to hold a batch")
        workers.kill(name)
        killed = time.monotonic()
        held_ids = [row_id for row_id, _ in held]

        def taken_over():
            left = claimed_ids(run_id) & set(held_ids)
            db.session.rollback()
            return not left
        wait_for(taken_over, LEASE_SECONDS + 30, interval=0.1, what="the dead worker's batch to be settled")
        takeover = time.monotonic() - killed
        done = _finished(db, run_id, 120, workers)
    finally:
        workers.stop_all()
    counts = _counts(db, run_id)
    report(f"killed_{victim}_holder", dialect=db.engine.dialect.name, lease_seconds=LEASE_SECONDS,
           supervisor_seconds=SUPERVISOR_SECONDS, takeover_seconds=round(takeover, 1),
           finished_after_kill_seconds=round(done - killed, 1), unknown=counts.get("unknown", 0))
    assert _status(db, run_id) == "sent"
    assert set(counts) <= {"sent", "unknown"} and counts.get("unknown", 0) <= 1
    assert len(_once_each(smtp_sink, 200)) >= 199
    assert takeover <= LEASE_SECONDS + 3 * SUPERVISOR_SECONDS + 2, \
        "whichever worker died, its batch is taken over within the lease (and a supervisor pass)"


def test_a_broadcast_scheduled_ahead_is_planned_and_sent_while_others_write(app, db, database_url,
                                                                            redis_database, tmp_path,
                                                                            smtp_sink, product):
    """Issue 14's scene: one ``flask rq worker --with-scheduler``, a broadcast due 10 s later, and
    the web writing meanwhile (on SQLite, the embedded default, this planning met "database is
    locked" and the run stayed planning forever)."""
    add_customers([(f"s{i:02d}@example.com", "S") for i in range(30)], product)
    broadcast = Broadcast(kind="email", status="scheduled", subject="Later", body_html="<p>Hi</p>")
    broadcast.targets = [BroadcastTarget(product_id=product.id)]
    db.session.add(broadcast)
    db.session.flush()
    save_schedule(broadcast, RuleSpec("once", "UTC", (utcnow() + timedelta(seconds=10)).replace(microsecond=0)))
    db.session.commit()
    broadcast_id = broadcast.id
    workers = _workers(tmp_path, database_url, redis_database.url, smtp_sink)
    writes = 0
    try:
        workers.start("w1", "--with-scheduler")
        deadline = time.monotonic() + 90
        while len(smtp_sink.recipients()) < 30 and time.monotonic() < deadline:
            set_option("network.name", f"Network {writes}")  # what a settings page does
            db.session.commit()
            writes += 1
            time.sleep(0.05)
        run = db.session.scalar(select(BroadcastRun).where(BroadcastRun.broadcast_id == broadcast_id))
        wait_for(lambda: _status(db, run.id) == "sent", 30, what="the run to finish")
        failed = FailedJobRegistry(queue=get_queue("delivery")).get_job_ids()
    finally:
        workers.stop_all()
    assert failed == [], "no job failed"
    assert len(_once_each(smtp_sink, 30)) == 30
    assert writes > 100


def test_redis_lost_together_with_a_worker_leaves_at_most_its_batch_unknown(app, db, database_url, tmp_path,
                                                                            smtp_sink, product, private_redis):
    """What is guaranteed when Redis dies with the write-ahead records: the killed worker's batch
    and the one it claimed ahead (2 × DELIVERY_BATCH_SIZE rows, 40 here) may be unknown, never
    re-sent; nothing else is."""
    smtp_sink.delay = 0.04
    add_customers([(f"b{i:03d}@example.com", "B") for i in range(160)], product)
    run_id = make_run(products=[product]).id
    workers = _workers(tmp_path, database_url, private_redis.url, smtp_sink)
    try:
        workers.start("w1")
        workers.start("w2")
        workers.wait_ready(private_redis.url)
        _start(run_id)
        _started(smtp_sink, 30, workers)
        workers.kill(workers.by_pid(_holder_pid(app.extensions["herald_redis"], "supervisor")))
        private_redis.restart_empty(down_seconds=1)
        back = time.monotonic()
        done = _finished(db, run_id, 120, workers)
    finally:
        workers.stop_all()
    counts = _counts(db, run_id)
    received = _once_each(smtp_sink, 160)
    statuses = dict(db.session.execute(select(Delivery.email, Delivery.status)
                                       .where(Delivery.run_id == run_id)).all())
    unknown = {email for email, status in statuses.items() if status == "unknown"}
    report("redis_lost_with_a_worker", dialect=db.engine.dialect.name, batch=20,
           unknown=len(unknown), unknown_delivered=len(unknown & set(received)),
           finished_after_return_seconds=round(done - back, 1))
    assert _status(db, run_id) == "sent"
    assert set(counts) <= {"sent", "unknown"} and len(unknown) <= 40
    assert {e for e, s in statuses.items() if s == "sent"} == set(received) - unknown
