"""Planning freezes the exact audience: unique addresses, lowest customer id wins, exclusions
recorded with their reason, and a second planning changes nothing."""
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.broadcasts.models import BroadcastRun
from app.delivery.jobs import plan_run
from app.delivery.models import Delivery, DeliveryDuplicate
from app.delivery.planning import _insert_ledger, chunk_ranges
from app.network.models import Product

from .conftest import add_customers, make_run, suppress


def _ledger(db, run_id):
    return {d.email: d for d in db.session.scalars(select(Delivery).where(Delivery.run_id == run_id))}


def test_plan_freezes_unique_addresses_with_exclusions(app, db, product):
    other = Product(slug="other", name="Other")
    db.session.add(other)
    db.session.commit()
    members = add_customers([("a@example.com", "A"), ("b@example.com", "B"), ("shared@example.com", "S1"),
                             ("unsub@example.com", "U"), ("bounce@example.com", "Bo"),
                             ("spam@example.com", "Sp")], product)
    cancelled = add_customers([("gone@example.com", "Gone")], product, status="cancelled")
    twin = add_customers([("shared@example.com", "S2")], product)[0]  # higher id, same address
    direct = add_customers([("direct@example.com", "D"), ("a@example.com", "A again")])
    add_customers([("elsewhere@example.com", "E")], other)
    suppress("unsub@example.com", "unsubscribed")
    suppress("bounce@example.com", "bounced")
    suppress("spam@example.com", "complained")
    run = make_run(customers=direct, products=[product])

    assert plan_run(run.id) == "1 chunk(s)"
    db.session.expire_all()
    ledger = _ledger(db, run.id)

    assert set(ledger) == {"a@example.com", "b@example.com", "shared@example.com", "unsub@example.com",
                           "bounce@example.com", "spam@example.com", "direct@example.com"}
    assert "gone@example.com" not in ledger and cancelled  # cancelled membership never included
    assert ledger["shared@example.com"].customer_id == members[2].id  # lowest id wins
    assert ledger["a@example.com"].customer_id == members[0].id
    assert {e: (d.status, d.reason) for e, d in ledger.items() if d.status == "skipped"} == {
        "unsub@example.com": ("skipped", "unsubscribed"), "bounce@example.com": ("skipped", "bounced"),
        "spam@example.com": ("skipped", "complained")}
    duplicates = {(d.customer_id, d.email) for d in db.session.scalars(
        select(DeliveryDuplicate).where(DeliveryDuplicate.run_id == run.id))}
    assert duplicates == {(twin.id, "shared@example.com"), (direct[1].id, "a@example.com")}
    run = db.session.get(BroadcastRun, run.id)
    assert (run.total, run.excluded) == (4, 5)
    assert run.status == "sending" and run.broadcast.status == "sending"


def test_second_planning_is_a_no_op(app, db, product):
    add_customers([(f"p{i}@example.com", f"P{i}") for i in range(7)], product)
    run = make_run(products=[product])
    plan_run(run.id)
    assert plan_run(run.id) == "not planning"
    # Even the raw INSERT ... SELECT run again adds nothing: UNIQUE (run_id, email) refuses it.
    with pytest.raises(IntegrityError):
        _insert_ledger(db.session.get(BroadcastRun, run.id))
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Delivery)
                             .where(Delivery.run_id == run.id)) == 7


def test_chunk_ranges_cover_every_queued_row_once(app, db, product):
    add_customers([(f"c{i:02d}@example.com", f"C{i}") for i in range(47)], product)
    run = make_run(products=[product])
    plan_run(run.id)
    ranges = chunk_ranges(run.id, "queued", size=20)
    ids = sorted(db.session.scalars(select(Delivery.id).where(Delivery.run_id == run.id)))
    covered = [i for i in ids if any(lo <= i <= hi for lo, hi in ranges)]
    assert covered == ids
    assert len(ranges) == 3
    assert sum(1 for i in ids if ranges[0][0] <= i <= ranges[0][1]) == 20


def test_notice_runs_are_not_delivered(app, db, product):
    add_customers([("n@example.com", "N")], product)
    run = make_run(products=[product])
    run.broadcast.kind = "notice"
    db.session.commit()
    assert plan_run(run.id) == "not an e-mail"
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0
