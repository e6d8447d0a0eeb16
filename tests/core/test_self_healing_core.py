"""The core of self-healing: which failures are transient, tracked jobs alive or not, leases that
wait out a Redis restart, and one supervisor acting at a time."""
import threading
import time

import pytest
import redis
from sqlalchemy import text

from app.core.extensions import db
from app.core.job_tracking import live_jobs
from app.core.jobs import enqueue_now
from app.core.leases import Lease, LeaseLost, alive, settled
from app.core.settings.models import Option
from app.core.supervisor import Supervisor
from app.core.transient import is_transient, retrying
from app.core.worker import make_worker
from tests.faults import SQLiteWriteLock, free_port

pytestmark = pytest.mark.committed  # the jobs run in sessions of their own


def note_liveness(track):
    """A tracked job that writes how many live jobs its track has while it runs."""
    db.session.add(Option(key=f"live:{track}", value=live_jobs(track)))
    db.session.commit()


def fail():
    """A tracked job that fails."""
    raise ValueError("a bug, not a transient failure")


def test_tracked_jobs_are_alive_while_queued_or_running_and_not_after(app):
    enqueue_now(note_liveness, "t1", track="t1")
    assert live_jobs("t1") == 1
    make_worker(queues=("default",), simple=True).work(burst=True)
    db.session.expire_all()
    assert db.session.get(Option, "live:t1").value == 1, "alive while it runs (its lease)"
    assert live_jobs("t1") == 0
    enqueue_now(fail, track="t2")
    make_worker(queues=("default",), simple=True).work(burst=True)
    assert live_jobs("t2") == 0, "a failed job moves nothing"


def test_a_tracked_job_lost_with_redis_is_not_alive(app, redis_client):
    enqueue_now(note_liveness, "t3", track="t3")
    redis_client.delete(*redis_client.keys("rq:job:*"))  # the job is gone, its listing is not
    assert live_jobs("t3") == 0


def test_a_tracked_job_taken_by_a_worker_that_died_before_starting_it_is_not_alive(app, redis_client):
    """RQ moves a job from its queue to the queue's intermediate list when a worker takes it; a
    worker killed before it starts the job leaves it "queued" in no queue (until RQ's own
    cleanup, minutes later). Alive for a lease after it was due (a worker may be starting it),
    then dead, so the supervisor sees the run idle and starts the work again."""
    from app.core.jobs import get_queue

    app.config["JOB_LEASE_SECONDS"] = 2  # the listing keeps whole seconds
    job = enqueue_now(note_liveness, "t5", track="t5")
    queue = get_queue("default")
    assert redis_client.lrem(queue.key, 0, job.id) == 1  # taken as a worker takes it
    redis_client.lpush(queue.intermediate_queue_key, job.id)
    assert live_jobs("t5") == 1, "just taken: a worker may be starting it"
    other = enqueue_now(note_liveness, "t6", track="t6")
    time.sleep(3.1)
    assert live_jobs("t5") == 0, "a lease later, not started: its worker died"
    assert live_jobs("t6") == 1, "waiting in its queue, however long"
    redis_client.lrem(queue.key, 0, other.id)


def test_transient_failures_are_told_from_bugs(app):
    refused = _error_of(lambda: redis.Redis(port=free_port(), socket_connect_timeout=0.5).ping())
    assert is_transient(refused)
    missing = _error_of(lambda: db.session.execute(text("SELECT * FROM no_such_table")))
    db.session.rollback()
    assert not is_transient(missing), "a missing table is a bug, even as SQLite's OperationalError"
    assert not is_transient(ValueError("bug"))


def test_sqlite_locked_is_transient_and_retried_until_the_lock_goes(app, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    app.config["TRANSIENT_RETRY_MAX_DELAY"] = 0.2
    lock = SQLiteWriteLock(database_url)
    lock.cut()
    releaser = threading.Timer(0.8, lock.restore)
    try:
        error = _error_of(_locked_write)
        assert is_transient(error) and "locked" in str(error)
        releaser.start()
        retrying(_locked_write, seconds=10)  # fails while the lock is held, then goes through
    finally:
        releaser.join()


def _locked_write():
    with db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA busy_timeout = 100")
        connection.exec_driver_sql("UPDATE options SET key = key")
        connection.commit()


def _error_of(action):
    try:
        action()
    except Exception as error:  # noqa: BLE001 - the error is what the test looks at
        return error
    raise AssertionError("no error")


def test_leases_are_trusted_only_a_lease_after_redis_lost_its_data(app, redis_client):
    assert not settled(1), "a new epoch: a missing lease may belong to a live holder"
    time.sleep(1.1)
    assert settled(1)
    redis_client.flushdb()  # Redis restarted empty
    assert not settled(1)


def test_one_supervisor_acts_at_a_time_and_another_takes_over(app, redis_client):
    first, second = Supervisor(app, interval=1), Supervisor(app, interval=1)
    assert first.holds_lease() and not second.holds_lease()
    assert first.holds_lease(), "the holder extends its lease"
    redis_client.flushdb()  # the holder died long ago (or Redis restarted): the lease is gone
    assert second.holds_lease() and not first.holds_lease()


def test_a_holder_that_missed_two_beats_is_dead_and_one_that_cannot_beat_stops(app, redis_client):
    redis_client.set("fresh", 1, px=9000)
    redis_client.set("late", 1, px=2900)  # a 9 s lease with less than a third left: two beats missed
    redis_client.set("forever", 1)
    assert alive(["fresh", "late", "forever", "gone"], 9) == {"fresh", "forever"}
    lease = Lease("held", 0.6)
    with lease:
        lease.check()  # just refreshed
        lease._stop.set()  # its refresh thread stops, as when Redis cannot be reached
        time.sleep(0.4)
        with pytest.raises(LeaseLost):
            lease.check()
        assert is_transient(LeaseLost("x")), "a lapsed lease pauses nothing: the job is tried again"
