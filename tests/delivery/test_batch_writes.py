"""Migration 0024: the counters' trigger groups a statement's rows before naming its counters, the
outcomes travel as arrays, a customer's first site is one index probe; the counters stay exact for
every kind of ledger write, the outcomes are written as given, and the migration goes both ways."""
import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import case, inspect, insert, null, select, update

from app.delivery.claims import CLAIM_LOCK, locked_claimed_ids
from app.delivery.models import Delivery, DeliveryClaim
from app.delivery.outcomes import Outcome, record_outcomes

from .conftest import make_run
from .test_contention import WAIT, _in_context
from .test_counters import _counters, _recount

HOUR = datetime(2026, 12, 1, 7, 59, 30)
NEXT_HOUR = HOUR + timedelta(minutes=2)


def _exact(db, runs) -> None:
    db.session.commit()
    for run_id in runs:
        assert _counters(db, run_id) == _recount(db, run_id)


def test_counters_equal_a_recount_after_writes_of_every_kind(app, db):
    """One statement over two runs at a time: inserts, status changes both ways, skipped rows with
    a reason, none or an empty one, sent times in two hours, a write that changes no counter."""
    runs = [make_run().id, make_run().id]
    kinds = [("queued", None, None), ("skipped", "suppressed: bounced", None), ("skipped", None, None),
             ("skipped", "", None), ("sent", None, HOUR), ("sent", None, NEXT_HOUR), ("deferred", None, None)]
    db.session.execute(insert(Delivery.__table__), [
        {"run_id": run_id, "email": f"r{run_id}-{n}@example.com", "status": status, "reason": reason,
         "sent_at": sent_at, "attempts": 0}
        for run_id in runs for n in range(21) for status, reason, sent_at in [kinds[n % len(kinds)]]])
    _exact(db, runs)
    table = Delivery.__table__
    for statement in (
            update(table).where(table.c.status == "queued", table.c.run_id.in_(runs))
            .values(status="sent", sent_at=case((table.c.id % 2 == 0, HOUR), else_=NEXT_HOUR)),
            update(table).where(table.c.status == "sent", table.c.sent_at == HOUR, table.c.run_id.in_(runs))
            .values(status="failed", sent_at=None),
            update(table).where(table.c.status == "skipped", table.c.run_id.in_(runs))
            .values(reason=case((table.c.reason.is_(None), "cancelled"), else_=null())),
            update(table).where(table.c.status == "deferred", table.c.run_id.in_(runs)).values(status="skipped"),
            update(table).where(table.c.run_id.in_(runs)).values(attempts=table.c.attempts + 1)):
        db.session.execute(statement)
        _exact(db, runs)


def test_outcomes_are_written_as_given_and_counted(app, db):
    """The arrays carry every field (nulls, quotes, backslashes, non-ASCII text) to the right row."""
    run_id = make_run().id
    db.session.execute(insert(Delivery.__table__), [
        {"run_id": run_id, "email": f"o{n}@example.com", "status": "queued", "attempts": 0} for n in range(3)])
    ids = db.session.scalars(select(Delivery.id).where(Delivery.run_id == run_id).order_by(Delivery.id)).all()
    outcomes = [Outcome(ids[0], "o0@example.com", "sent", 250, '2.0.0 Ok "quoted" \\ ünïcode ✓', "<m0@x>",
                        sent_at=HOUR),
                Outcome(ids[1], "o1@example.com", "deferred", 451, "4.3.0 later", None, next_attempt_at=NEXT_HOUR),
                Outcome(ids[2], "o2@example.com", "unknown", None, "no reply", None)]
    record_outcomes(outcomes, HOUR - timedelta(seconds=5))
    _exact(db, [run_id])
    db.session.expire_all()
    rows = db.session.execute(select(Delivery.status, Delivery.code, Delivery.reply, Delivery.message_id,
                                     Delivery.sent_at, Delivery.next_attempt_at, Delivery.attempts,
                                     Delivery.last_attempt_at).where(Delivery.run_id == run_id)
                              .order_by(Delivery.id)).all()
    attempted = HOUR - timedelta(seconds=5)
    assert [tuple(row) for row in rows] == [
        ("sent", 250, '2.0.0 Ok "quoted" \\ ünïcode ✓', "<m0@x>", HOUR, None, 1, attempted),
        ("deferred", 451, "4.3.0 later", None, None, NEXT_HOUR, 1, attempted),
        ("unknown", None, "no reply", None, None, None, 1, attempted)]


@pytest.mark.committed
def test_the_claim_check_sees_a_claim_committed_while_it_waited_for_the_lock(app, db):
    """``herald_lock_claims`` reads the other claims after the advisory lock is granted: a claim
    committed by the lock's holder meanwhile is seen (its rows are never claimed twice)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the claimers' advisory lock is PostgreSQL's (TEST_DATABASE_URL)")
    run_id = make_run().id
    found, errors, done = [], [], []
    with db.engine.connect() as holder:
        holder.execute(CLAIM_LOCK, {"run": run_id, "token": "holder"}).all()
        holder.execute(insert(DeliveryClaim.__table__).values(token="holder", run_id=run_id, ids="[7, 8]",
                                                             queued=2, claimed_at=HOUR))
        waiter = threading.Thread(target=_in_context, args=(
            app, errors, done, lambda: found.append(locked_claimed_ids(run_id, "waiter"))))
        waiter.start()
        time.sleep(0.5)
        assert waiter.is_alive(), ("the claim check did not wait for the advisory lock", errors)
        holder.commit()
        waiter.join(WAIT)
    assert not errors and done and found == [{7, 8}], (errors, found)


def test_migration_0024_swaps_the_sites_index_both_ways(tmp_path, redis_database):
    """Upgrade: the sites' customer index is (customer_id, id); downgrade: (customer_id) again."""
    from app import create_app
    from app.core.extensions import db

    url = f"sqlite:///{tmp_path / 'sites.db'}"
    fresh = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url,
                        "INSTANCE_PATH": str(tmp_path), "REDIS_URL": redis_database.url})
    runner = fresh.test_cli_runner()

    def indexes(revision_args):
        result = runner.invoke(args=["db", *revision_args])
        assert result.exit_code == 0, result.output
        with fresh.app_context():
            found = {index["name"]: index["column_names"] for index in inspect(db.engine).get_indexes("sites")}
            db.engine.dispose()
        return {name: columns for name, columns in found.items() if name.startswith("ix_sites_customer")}

    assert indexes(["upgrade", "0023_counter_shards"]) == {"ix_sites_customer_id": ["customer_id"]}
    assert indexes(["upgrade"]) == {"ix_sites_customer_id_id": ["customer_id", "id"]}
    assert indexes(["downgrade", "0023_counter_shards"]) == {"ix_sites_customer_id": ["customer_id"]}
    assert indexes(["upgrade"]) == {"ix_sites_customer_id_id": ["customer_id", "id"]}
