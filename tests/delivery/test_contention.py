"""Two sending jobs of one run do not wait for each other's batch transactions (migration 0023):
on PostgreSQL a job records its outcomes and claims its next batch while another job's
transaction, which has written its own outcomes, is still open; the two batches stay disjoint and
the counters add up. A cancel still waits for the senders' transactions."""
import threading

import pytest
from sqlalchemy import select, text

from app.broadcasts.listing import run_counters
from app.broadcasts.models import BroadcastRun
from app.core.utils import utcnow
from app.delivery import progress
from app.delivery.claims import Claims, hold
from app.delivery.models import Delivery
from app.delivery.outcomes import Outcome, lock_run

from .conftest import fresh_app
from .test_claims import _planned

WAIT = 10.0  # seconds: far longer than B's transaction takes when nothing blocks it


def _sender(db, run_id, token, size=4):
    """A sender holding a committed batch of ``size`` rows, all sent (outcomes not yet written)."""
    from app.delivery.sending import Sender  # imported once the app exists, as the jobs do

    sender = Sender(run_id, token)
    sender.where = [Delivery.status == "queued"]
    sender.claims = Claims(run_id, token, size, False, sender.where)
    lock_run(run_id)
    sender.batch = sender.claims.next(hold(token))
    db.session.commit()
    sender.position = len(sender.batch)
    sender.outcomes = [Outcome(c.recipient.delivery_id, c.recipient.email, "sent", 250, "250 ok",
                               sent_at=utcnow()) for c in sender.batch]
    return sender


def _in_context(app, errors, done, work):
    try:
        with app.app_context():
            work()
            done.append(True)
    except Exception as error:  # noqa: BLE001 - reported by the test
        errors.append(error)


def test_a_senders_open_transaction_does_not_block_another_senders_claim(app, db, product, jobs):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent transactions are checked on PostgreSQL (TEST_DATABASE_URL)")
    run_id = _planned(jobs, product, 20)
    first, second = _sender(db, run_id, "joba"), _sender(db, run_id, "jobb")
    before = {c.recipient.delivery_id for c in first.batch + second.batch}
    errors, done, seen = [], [], []

    def inside_first(_run_id, _outcomes):
        """Called in the first job's transaction, after its outcomes are written, before it claims
        and commits: the second job records and claims in its own transaction meanwhile."""
        if seen:
            return
        seen.append(True)
        thread = threading.Thread(target=_in_context, args=(app, errors, done, second._cycle_now))
        threads.append(thread)
        thread.start()
        thread.join(WAIT)
        seen.append(not thread.is_alive())

    threads = []
    app.extensions["herald_hooks"].add("delivery_results_recorded", inside_first)
    try:
        first._cycle_now()
    finally:
        for thread in threads:  # blocked by the first job's locks, it ends once they go
            thread.join()
    try:
        _check_both_recorded_and_claimed(db, run_id, first, second, before, errors, seen)
    finally:
        first.close()  # gives their new batches back
        second.close()


def _check_both_recorded_and_claimed(db, run_id, first, second, before, errors, seen):
    assert not errors, errors
    assert seen == [True, True], "the second job waited for the first job's transaction"
    # Both recorded their four rows, and their next batches are disjoint and new.
    statuses = dict(db.session.execute(select(Delivery.id, Delivery.status).where(Delivery.run_id == run_id)).all())
    assert all(statuses[row_id] == "sent" for row_id in before)
    new_first = {c.recipient.delivery_id for c in first.batch}
    new_second = {c.recipient.delivery_id for c in second.batch}
    assert len(new_first) == len(new_second) == 4
    assert not new_first & new_second and not (new_first | new_second) & before
    counts = progress.status_counts(run_id)
    assert (counts["sent"], counts["sending"], counts["queued"]) == (8, 8, 4)
    broadcast_id = db.session.get(BroadcastRun, run_id).broadcast_id
    assert run_counters([broadcast_id])[broadcast_id]["sent"] == 8  # the list reads the live counters


def test_a_cancel_waits_for_a_senders_open_transaction(app, db, product, jobs):
    """A sender's shared lock on the run's row still orders it against a cancel (``FOR UPDATE``):
    the cancel cannot skip rows while a sender writes their outcomes or claims them."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent transactions are checked on PostgreSQL (TEST_DATABASE_URL)")
    run_id = _planned(jobs, product, 10)
    sender = _sender(db, run_id, "joba")
    lock_run(run_id, share=True)
    errors, done = [], []

    def cancel():
        db.session.execute(text("SET LOCAL lock_timeout = '1s'"))
        lock_run(run_id)

    thread = threading.Thread(target=_in_context, args=(app, errors, done, cancel))
    thread.start()
    thread.join(WAIT)
    db.session.rollback()
    sender.close()
    assert not done and len(errors) == 1 and "lock timeout" in str(errors[0])


def test_migration_0023_keeps_the_counters_both_ways_and_downgrade_sets_sent_and_failed(tmp_path, redis_database):
    """Upgrade keeps every counter (shard 0); downgrade sums the shards into one row a counter and
    sets each run's sent and failed from them (not kept per batch while 0023 ran)."""
    from app.broadcasts.models import Broadcast

    fresh, _, migrate = fresh_app(f"sqlite:///{tmp_path / 'shards.db'}", tmp_path, redis_database.url)

    def counters(db, shards=True):
        columns = "name, shard, value" if shards else "name, value"
        return [tuple(r) for r in db.session.execute(
            text(f"SELECT {columns} FROM delivery_counts WHERE run_id = :run ORDER BY name"), {"run": run_id})]

    migrate("upgrade", "0022_delivery_claims")
    with fresh.app_context():
        from app.core.extensions import db
        run = BroadcastRun(broadcast=Broadcast(subject="s"), occurrence_at=utcnow(), status="sending")
        db.session.add(run)
        db.session.commit()
        run_id = run.id
        db.session.execute(text("INSERT INTO delivery_counts (run_id, name, value) VALUES "
                                "(:run, 'status:sent', 5), (:run, 'status:failed', 2)"), {"run": run_id})
        db.session.commit()
        db.engine.dispose()
    migrate("upgrade")
    with fresh.app_context():
        assert counters(db) == [("status:failed", 0, 2), ("status:sent", 0, 5)]
        db.session.execute(text("INSERT INTO delivery_counts (run_id, name, shard, value) VALUES "
                                "(:run, 'status:sent', 3, 4), (:run, 'status:queued', 9, 1)"), {"run": run_id})
        db.session.commit()
        assert progress.status_counts(run_id)["sent"] == 9
        db.engine.dispose()
    migrate("downgrade", "0022_delivery_claims")
    with fresh.app_context():
        assert counters(db, shards=False) == [("status:failed", 2), ("status:queued", 1), ("status:sent", 9)]
        assert tuple(db.session.execute(text("SELECT sent, failed FROM broadcast_runs WHERE id = :run"),
                                        {"run": run_id}).one()) == (9, 2)
        db.engine.dispose()
    migrate("upgrade")
    with fresh.app_context():
        assert counters(db) == [("status:failed", 0, 2), ("status:queued", 0, 1), ("status:sent", 0, 9)]
        db.engine.dispose()
