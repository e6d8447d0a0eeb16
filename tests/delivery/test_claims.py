"""One write per ledger row and attempt (migration 0022): a claim is one ``delivery_claims`` row per
job, the ledger rows stay queued until their outcome, two claimers never hold one row, and the
migration turns rows left in ``sending`` into claims and back."""
import json
from collections import Counter

import pytest
from sqlalchemy import select, text

from app.broadcasts.models import BroadcastRun
from app.core.jobs import enqueue_now
from app.delivery import progress
from app.delivery.claims import Claims, claimed_ids, hold
from app.delivery.jobs import plan_run
from app.delivery.models import Delivery, DeliveryClaim
from app.delivery.outcomes import lock_run

from .conftest import add_customers, make_run, suppress


def _planned(jobs, product, count):
    add_customers([(f"c{i:02d}@example.com", "C") for i in range(count)], product)
    run_id = make_run(products=[product]).id
    enqueue_now(plan_run, run_id, queue="delivery")
    jobs.work(max_jobs=1)  # planned and dispatched, nothing sent
    return run_id


def _claim(db, run_id, token, size=5):
    lock_run(run_id)
    batch = Claims(run_id, token, size, False, [Delivery.status == "queued"]).next(hold(token))
    db.session.commit()
    return [c.recipient.delivery_id for c in batch]


def test_a_claim_writes_one_claim_row_and_no_ledger_row(app, db, product, jobs):
    run_id = _planned(jobs, product, 12)
    first = _claim(db, run_id, "job-a")
    second = _claim(db, run_id, "job-b")
    assert len(first) == len(second) == 5 and not set(first) & set(second), "never one row twice"
    rows = db.session.execute(select(Delivery.id, Delivery.status, Delivery.attempts, Delivery.claim)
                              .where(Delivery.run_id == run_id)).all()
    assert {(status, attempts, claim) for _, status, attempts, claim in rows} == {("queued", 0, None)}
    claims = {c.token: json.loads(c.ids) for c in db.session.scalars(select(DeliveryClaim))}
    assert claims == {"job-a": first, "job-b": second} and claimed_ids(run_id) == set(first + second)
    counts = progress.status_counts(run_id)  # what the run page and the CLI show
    assert (counts["sending"], counts["queued"]) == (10, 2)
    assert _claim(db, run_id, "job-c") == sorted({r.id for r in rows} - set(first + second))
    assert progress.status_counts(run_id)["sending"] == 12


def _count_row_updates(db):
    """A trigger of the test's own counting every updated ledger row (dropped by ``_drop``)."""
    db.session.execute(text("CREATE TABLE test_row_updates (n integer NOT NULL)"))
    db.session.execute(text("INSERT INTO test_row_updates VALUES (0)"))
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("CREATE FUNCTION test_row_updated() RETURNS trigger LANGUAGE plpgsql AS "
                                "$$ BEGIN UPDATE test_row_updates SET n = n + 1; RETURN NULL; END $$"))
        db.session.execute(text("CREATE TRIGGER test_row_updated AFTER UPDATE ON deliveries "
                                "FOR EACH ROW EXECUTE FUNCTION test_row_updated()"))
    else:
        db.session.execute(text("CREATE TRIGGER test_row_updated AFTER UPDATE ON deliveries "
                                "BEGIN UPDATE test_row_updates SET n = n + 1; END"))
    db.session.commit()


def _drop(db):
    db.session.rollback()
    db.session.execute(text("DROP TRIGGER IF EXISTS test_row_updated" +
                            (" ON deliveries" if db.engine.dialect.name == "postgresql" else "")))
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("DROP FUNCTION IF EXISTS test_row_updated()"))
    db.session.execute(text("DROP TABLE IF EXISTS test_row_updates"))
    db.session.commit()


def test_a_sent_message_writes_its_ledger_row_once(app, db, product, jobs, smtp_sink):
    run_id = _planned(jobs, product, 12)
    _count_row_updates(db)
    try:
        jobs.work()
        updates = db.session.scalar(text("SELECT n FROM test_row_updates"))
        rows = db.session.execute(select(Delivery.status, Delivery.attempts, Delivery.last_attempt_at)
                                  .where(Delivery.run_id == run_id)).all()
    finally:
        _drop(db)
    assert len(smtp_sink.messages) == 12 and {(s, a) for s, a, _ in rows} == {("sent", 1)}
    assert all(at is not None for _, _, at in rows)
    assert updates == 12, "one write per row: the outcome (the claim writes no ledger row)"
    assert db.session.scalar(select(DeliveryClaim.token)) is None, "no claim left behind"


def test_migration_0022_turns_rows_left_sending_into_claims_and_back(tmp_path, redis_database):
    from app import create_app
    from app.core.extensions import db

    url = f"sqlite:///{tmp_path / 'claims.db'}"
    fresh = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url,
                        "INSTANCE_PATH": str(tmp_path), "REDIS_URL": redis_database.url})
    runner = fresh.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    result = runner.invoke(args=["db", "downgrade", "0021_probe_plans"])
    assert result.exit_code == 0, result.output
    insert = text("INSERT INTO deliveries (id, run_id, email, status, attempts, claim, next_attempt_at, "
                  "last_attempt_at) VALUES (:id, 7, :email, :status, :attempts, :claim, :next_at, :at)")
    with fresh.app_context():
        db.session.execute(insert, [
            {"id": 1, "email": "a@x.test", "status": "sending", "attempts": 1, "claim": "tok1",
             "next_at": None, "at": "2026-12-01 04:00:00"},
            {"id": 2, "email": "b@x.test", "status": "sending", "attempts": 3, "claim": "tok1",
             "next_at": "2026-12-01 05:00:00", "at": "2026-12-01 04:00:00"},
            {"id": 3, "email": "c@x.test", "status": "sending", "attempts": 1, "claim": None,
             "next_at": None, "at": None},
            {"id": 4, "email": "d@x.test", "status": "sent", "attempts": 1, "claim": None,
             "next_at": None, "at": "2026-12-01 03:00:00"}])
        db.session.commit()
        db.engine.dispose()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with fresh.app_context():
        claims = {c.token: (sorted(json.loads(c.ids)), c.run_id, c.queued)
                  for c in db.session.scalars(select(DeliveryClaim))}
        assert claims == {"tok1": ([1, 2], 7, 1), "legacy-7": ([3], 7, 1)}
        rows = db.session.execute(select(Delivery.id, Delivery.status, Delivery.attempts, Delivery.claim)
                                  .order_by(Delivery.id)).all()
        assert [tuple(r) for r in rows] == [(1, "queued", 0, None), (2, "deferred", 2, None),
                                            (3, "queued", 0, None), (4, "sent", 1, None)]
        counters = dict(db.session.execute(text("SELECT name, value FROM delivery_counts WHERE run_id = 7")).all())
        assert counters.get("status:sending") == 0 and counters["status:queued"] == 2
        db.engine.dispose()
    result = runner.invoke(args=["db", "downgrade", "0021_probe_plans"])
    assert result.exit_code == 0, result.output
    with fresh.app_context():
        rows = db.session.execute(text("SELECT id, status, attempts, claim FROM deliveries ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, "sending", 1, "tok1"), (2, "sending", 3, "tok1"),
                                            (3, "sending", 1, "legacy-7"), (4, "sent", 1, None)]
        assert "delivery_claims" not in db.inspect(db.engine).get_table_names()
        db.engine.dispose()


def test_a_job_whose_claim_the_reaper_settled_writes_nothing_after(app, db, product, jobs):
    """The reaper deletes a dead job's claim under the run's lock; a job that was only slow (its
    lease lapsed) then finds its claim gone and leaves the reaper's outcomes as they are."""
    from app.broadcasts.models import BroadcastRun
    from app.core.utils import utcnow
    from app.delivery import reaper
    from app.delivery.outcomes import Outcome
    from app.delivery.sending import Sender

    run_id = _planned(jobs, product, 4)
    sender = Sender(run_id, "slowjob")
    sender.where = [Delivery.status == "queued"]
    sender.claims = Claims(run_id, "slowjob", 2, False, sender.where)
    lock_run(run_id)
    sender.batch = sender.claims.next(hold("slowjob"))
    db.session.commit()
    held = [c.recipient for c in sender.batch]
    assert reaper.settle(run_id, "slowjob") == 2  # no record in Redis: both unknown
    db.session.commit()
    sender.position = len(sender.batch)
    sender.outcomes = [Outcome(r.delivery_id, r.email, "sent", 250, "250 ok", sent_at=utcnow()) for r in held]
    try:
        sender._cycle_now()  # records (nothing: the claim is gone) and claims the next two rows
        claimed = list(sender.batch)
    finally:
        sender.close()  # gives them back (none was sent)
    statuses = dict(db.session.execute(select(Delivery.id, Delivery.status).where(Delivery.run_id == run_id)).all())
    assert [statuses[r.delivery_id] for r in held] == ["unknown", "unknown"]
    assert db.session.get(BroadcastRun, run_id).sent == 0
    assert len(claimed) == 2 and {c.recipient.delivery_id for c in claimed}.isdisjoint(
        r.delivery_id for r in held)
    assert progress.status_counts(run_id)["unknown"] == 2


def test_a_dead_jobs_claim_on_a_run_cancelled_meanwhile_is_still_settled(app, db, product, jobs, monkeypatch):
    """A cancel skips the claimed rows (their messages may be out); the supervisor then settles the
    dead job's claim from its record as on a sending run, instead of leaving it for good."""
    from app.delivery import reaper
    from app.delivery.services import cancel_run

    run_id = _planned(jobs, product, 6)
    held = _claim(db, run_id, "diedjob", size=3)  # no lease, no record: the job is gone
    cancel_run(run_id)
    db.session.commit()
    statuses = dict(db.session.execute(select(Delivery.id, Delivery.status).where(Delivery.run_id == run_id)).all())
    assert {statuses[i] for i in held} == {"skipped"}
    assert run_id in reaper.active_run_ids()  # cancelled, yet a claim is left
    monkeypatch.setitem(app.config, "DELIVERY_LEASE_SECONDS", 0)  # this Redis is old enough for leases
    for step in reaper.run_steps():
        step()
    db.session.commit()
    statuses = dict(db.session.execute(select(Delivery.id, Delivery.status).where(Delivery.run_id == run_id)).all())
    assert {statuses[i] for i in held} == {"unknown"}  # no record: whether they went out is not known
    assert db.session.scalar(select(DeliveryClaim).where(DeliveryClaim.token == "diedjob")) is None
    assert run_id not in reaper.active_run_ids()


def test_a_batch_all_suppressed_after_planning_does_not_end_the_chunk(app, db, smtp_sink, product, jobs):
    """Every row of a batch suppressed after planning: the claim skips them and reads on. It
    answered "nothing left", so the chunk's job ended and its other rows waited for the
    supervisor's idle pass (fresh-clone review, 2026-12-01)."""
    add_customers([(f"b{i:02d}@example.com", "B") for i in range(60)], product)
    run = make_run(products=[product])
    enqueue_now(plan_run, run.id, queue="delivery")
    jobs.work(max_jobs=1)  # planned; the chunks' jobs wait (chunks of 20, batches of 5)
    for i in range(20, 27):  # the second chunk's first batch and two more
        suppress(f"b{i:02d}@example.com", "complained")
    jobs.work()
    db.session.expire_all()
    statuses = Counter(db.session.scalars(select(Delivery.status).where(Delivery.run_id == run.id)))
    assert statuses == {"sent": 53, "skipped": 7}
    assert db.session.get(BroadcastRun, run.id).status == "sent"
    assert len(smtp_sink.messages) == 53


class TestAChunksTailSuppressed:
    """Claims of 3 rows in chunks of 20 (a claim size that does not divide the chunk, as with any
    rate limit): the chunk's last 2 rows suppressed after planning."""

    @pytest.fixture
    def app_config(self):
        return {"DELIVERY_CHUNK_SIZE": 20, "DELIVERY_BATCH_SIZE": 3, "DELIVERY_LEASE_SECONDS": 2,
                "DELIVERY_JOB_SECONDS": 60, "MAIL_FROM": "Herald Network <noreply@herald.test>"}

    def test_is_skipped_and_nothing_is_sent_twice(self, app, db, smtp_sink, product, jobs):
        """The claim made while the batch before the tail was sent found only suppressed rows above
        it, read the chunk again from its start and took the rows it was sending a second time
        (the first version of the skip: 21 messages for 18, fresh-clone review)."""
        add_customers([(f"t{i:02d}@example.com", "T") for i in range(20)], product)
        run = make_run(products=[product])
        enqueue_now(plan_run, run.id, queue="delivery")
        jobs.work(max_jobs=1)
        emails = db.session.scalars(select(Delivery.email).where(Delivery.run_id == run.id)
                                    .order_by(Delivery.id)).all()
        for email in emails[-2:]:
            suppress(email, "complained")
        jobs.work()
        db.session.expire_all()
        statuses = Counter(db.session.scalars(select(Delivery.status).where(Delivery.run_id == run.id)))
        assert statuses == {"sent": 18, "skipped": 2}
        assert sorted(smtp_sink.recipients()) == sorted(emails[:-2])  # each once


def test_a_record_of_an_earlier_version_with_a_nul_in_a_reply_is_settled(app, db, product, jobs):
    """A write-ahead record written before replies were escaped where they are read may hold a raw
    NUL: the reaper's outcome write failed on PostgreSQL at every retry, the row stayed claimed."""
    from app.core.extensions import redis_store
    from app.core.leases import redis_run_id
    from app.delivery import reaper, wal

    run_id = _planned(jobs, product, 2)
    held = _claim(db, run_id, "oldjob", size=2)  # no lease: the job is gone
    reply, message_id = "250 2.0.0 Ok: queued as \x00AB\x1b[2J\ndone", "<m\x00@x>"
    redis_store.client.hset(wal.wal_key("oldjob"), mapping={  # as the earlier version wrote it
        "h": json.dumps({"redis": redis_run_id(), "ids": held}),
        str(held[0]): json.dumps(["sent", 250, reply, message_id, "2026-12-01T04:00:00", None, False]),
        str(held[1]): json.dumps(["failed", 550, "550 no\x00such user", None, None, None, False])})
    assert reaper.settle(run_id, "oldjob") == 2
    db.session.commit()
    rows = db.session.execute(select(Delivery.status, Delivery.reply, Delivery.message_id)
                              .where(Delivery.id.in_(held)).order_by(Delivery.id)).all()
    assert [tuple(r) for r in rows] == [("sent", "250 2.0.0 Ok: queued as \\x00AB\\x1b[2J\ndone", "<m\\x00@x>"),
                                        ("failed", "550 no\\x00such user", None)]
    assert db.session.scalar(select(DeliveryClaim).where(DeliveryClaim.token == "oldjob")) is None


class TestALongSuppressedStretch:
    """2,600 rows in one chunk, claims of 5, the first 2,500 suppressed after planning."""

    @pytest.fixture
    def app_config(self):
        return {"DELIVERY_CHUNK_SIZE": 5000, "DELIVERY_BATCH_SIZE": 5, "DELIVERY_LEASE_SECONDS": 2,
                "DELIVERY_JOB_SECONDS": 60, "MAIL_FROM": "Herald Network <noreply@herald.test>"}

    def test_is_skipped_a_bounded_stretch_per_transaction(self, app, db, smtp_sink, product, jobs):
        """One transaction skipped the whole stretch, holding the run's claim lock (other jobs of
        the run waited) and the run's row: 6,000 rows 1.7 s on PostgreSQL, 60,000 rows 346 s,
        far longer than the job's lease. Now each transaction skips at most ``SKIP_MOST``,
        commits, and the claim goes on in the next one."""
        from sqlalchemy import event

        from app.core.utils import utcnow
        from app.delivery.claims import SKIP_MOST
        from app.mail.suppression import Suppression
        from app.network.cli import insert_rows
        from app.network.models import Customer, Membership

        now = utcnow()
        insert_rows(Customer, [{"email": f"s{i:04d}@example.com", "name": "S", "locale": "en",
                                "timezone": "UTC", "created_at": now} for i in range(2600)])
        db.session.flush()
        insert_rows(Membership, [{"customer_id": customer_id, "product_id": product.id,
                                  "status": "active", "started_at": now}
                                 for customer_id in db.session.scalars(select(Customer.id))])
        db.session.commit()
        run = make_run(products=[product])
        enqueue_now(plan_run, run.id, queue="delivery")
        jobs.work(max_jobs=1)  # planned: one chunk, its job waits
        emails = db.session.scalars(select(Delivery.email).where(Delivery.run_id == run.id)
                                    .order_by(Delivery.id)).all()
        insert_rows(Suppression, [{"email": email, "reason": "complained", "source": "test",
                                   "created_at": now} for email in emails[:2500]])
        db.session.commit()

        skipped, per_transaction = {}, []

        def count(conn, clause, multiparams, params, options, result):  # the skip's UPDATE: one per row
            sets = multiparams or [params]
            if sets and sets[0] and "why" in sets[0]:
                skipped[id(conn)] = skipped.get(id(conn), 0) + len(sets)

        def committed(conn):
            if id(conn) in skipped:
                per_transaction.append(skipped.pop(id(conn)))

        event.listen(db.engine, "after_execute", count)
        event.listen(db.engine, "commit", committed)
        try:
            jobs.work()
        finally:
            event.remove(db.engine, "after_execute", count)
            event.remove(db.engine, "commit", committed)
        db.session.expire_all()
        statuses = Counter(db.session.scalars(select(Delivery.status).where(Delivery.run_id == run.id)))
        assert statuses == {"sent": 100, "skipped": 2500}
        assert sorted(smtp_sink.recipients()) == emails[2500:]  # each once
        assert sum(per_transaction) == 2500 and max(per_transaction) <= SKIP_MOST, per_transaction
        assert db.session.get(BroadcastRun, run.id).status == "sent"
