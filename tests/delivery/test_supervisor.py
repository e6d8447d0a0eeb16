"""No run is left without a job that will move it: a planning that fails on a real database fault is
retried with backoff; a run whose jobs failed for good, or whose jobs and chunks Redis lost, or
whose retry nobody schedules, is moved on by the supervisor pass that every worker runs."""
import logging
import threading
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, text

from app.broadcasts.models import BroadcastRun
from app.core.jobs import enqueue_now
from app.core.settings.services import set_option
from app.core.supervisor import Supervisor
from app.core.worker import make_worker
from app.delivery.chunks import track
from app.delivery.jobs import plan_run
from app.delivery.models import Delivery
from tests.faults import SQLiteWriteLock, TcpProxy

from .conftest import add_customers, make_run

pytestmark = pytest.mark.committed  # the jobs run in sessions of their own


@pytest.fixture
def outage(database_url):
    """(fault, app config) for a database outage the app itself meets: SQLite's write lock with a
    0.5 s busy timeout, or the app connected to PostgreSQL through a proxy that is cut."""
    if database_url.startswith("sqlite"):
        yield SQLiteWriteLock(database_url), {"SQLITE_BUSY_SECONDS": 0.5}
        return
    parts = urlsplit(database_url)
    proxy = TcpProxy(parts.hostname, parts.port or 5432).start()
    yield proxy, {"SQLALCHEMY_DATABASE_URI": proxy.url(database_url)}
    proxy.cut()


@pytest.fixture
def app_config(request):
    """tests/delivery's settings; retries give up after 1 s (the supervisor's turn comes
    sooner); leases of 1 s; the outage's settings when the test has one."""
    config = {"DELIVERY_CHUNK_SIZE": 20,
              "DELIVERY_BATCH_SIZE": 5, "DELIVERY_LEASE_SECONDS": 1, "JOB_LEASE_SECONDS": 1,
              "TRANSIENT_RETRY_SECONDS": 1, "TRANSIENT_RETRY_MAX_DELAY": 0.5,
              "MAIL_FROM": "Herald Network <noreply@herald.test>"}
    if "outage" in request.fixturenames:
        config.update(request.getfixturevalue("outage")[1])
    return config


def _status(db, run_id):
    db.session.expire_all()
    return db.session.get(BroadcastRun, run_id).status


def _one_job():
    make_worker(queues=("delivery",), simple=True).work(burst=True, max_jobs=1)


def _supervise(app):
    """One supervisor pass, as the worker holding the supervisor lease makes every few seconds."""
    assert Supervisor(app).run_once() >= 1


def test_planning_that_meets_a_database_fault_is_retried_and_the_run_finishes(
        app, db, outage, smtp_sink, product, caplog, jobs):
    fault, _ = outage
    app.config["TRANSIENT_RETRY_SECONDS"] = 30
    add_customers([(f"p{i}@example.com", "P") for i in range(12)], product)
    run_id = make_run(products=[product]).id
    enqueue_now(plan_run, run_id, queue="delivery", track=track(run_id))
    db.session.commit()
    fault.cut()
    threading.Timer(1.5, fault.restore).start()
    with caplog.at_level(logging.WARNING, logger="app.core.transient"):
        _one_job()  # the planning job fails, waits, tries again once the database answers
    assert any("plan_run: transient failure" in r.getMessage() for r in caplog.records)
    jobs.work()
    assert _status(db, run_id) == "sent"
    assert sorted(smtp_sink.recipients()) == sorted(f"p{i}@example.com" for i in range(12))


def test_a_planning_job_that_failed_for_good_is_planned_again_by_the_supervisor(
        app, db, outage, smtp_sink, product, jobs):
    fault, _ = outage
    add_customers([(f"q{i}@example.com", "Q") for i in range(7)], product)
    run_id = make_run(products=[product]).id
    enqueue_now(plan_run, run_id, queue="delivery", track=track(run_id))
    db.session.commit()
    fault.cut()
    try:
        _one_job()  # retries for TRANSIENT_RETRY_SECONDS (1 s), then the job fails
    finally:
        fault.restore()
    assert _status(db, run_id) == "planning"
    db.session.commit()
    _supervise(app)
    jobs.work()
    assert _status(db, run_id) == "sent"
    assert len(smtp_sink.recipients()) == 7


def test_a_sending_run_whose_jobs_and_chunks_redis_lost_is_dispatched_again(
        app, db, smtp_sink, product, redis_client, jobs):
    add_customers([(f"l{i}@example.com", "L") for i in range(30)], product)
    run_id = make_run(products=[product]).id
    enqueue_now(plan_run, run_id, queue="delivery", track=track(run_id))
    jobs.work(max_jobs=1)  # planned: chunks and runners wait in Redis
    redis_client.flushdb()  # Redis restarted empty
    assert _status(db, run_id) == "sending"
    jobs.work()
    assert smtp_sink.recipients() == []  # nothing moves the run any more
    db.session.commit()
    _supervise(app)
    jobs.work()
    assert _status(db, run_id) == "sent"
    assert sorted(smtp_sink.recipients()) == sorted(f"l{i}@example.com" for i in range(30))


def test_deferred_rows_are_retried_even_without_an_rq_scheduler(app, db, smtp_sink, product, jobs):
    set_option("delivery.retry_base_seconds", 1)
    db.session.commit()
    smtp_sink.cues = {"later@example.com": ["451 4.3.0 Try again later", "250 OK"]}
    add_customers([("later@example.com", "Later"), ("now@example.com", "Now")], product)
    run = make_run(products=[product])
    jobs.start(run)  # no worker runs RQ's scheduler: the retry job stays scheduled
    assert _status(db, run.id) == "sending"
    time.sleep(2.2)  # due after 1 s, given up after one more lease (1 s)
    db.session.commit()
    _supervise(app)
    jobs.work()
    row = db.session.scalar(select(Delivery).where(Delivery.email == "later@example.com"))
    assert (row.status, row.attempts) == ("sent", 2)
    assert _status(db, run.id) == "sent"


def test_the_embedded_database_uses_the_write_ahead_journal(app, db):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
