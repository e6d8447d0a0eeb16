"""The audience counts and the planned ledger agree with a brute-force computation in Python on
a network where addresses are shared inside and outside the audience, customers hold several
memberships, are targeted directly too, and some addresses are suppressed."""
import random

from sqlalchemy import insert, select

from app.broadcasts.audience import count_audience
from app.broadcasts.models import BroadcastRun
from app.delivery.jobs import plan_run
from app.delivery.models import Delivery, DeliveryDuplicate
from app.mail.suppression import Suppression
from app.network.models import Customer, Membership, Product

from .conftest import make_run

STATUSES = ("active", "trialing", "cancelled")


def _network(db, rng):
    products = [Product(slug=f"p{n}", name=f"P{n}") for n in range(3)]
    db.session.add_all(products)
    db.session.commit()
    db.session.execute(insert(Customer), [{"email": f"user{rng.randrange(90)}@example.com", "name": f"C{n}"}
                                          for n in range(200)])
    customers = db.session.execute(select(Customer.id, Customer.email)).all()
    memberships = [{"customer_id": cid, "product_id": rng.choice(products).id, "status": rng.choice(STATUSES)}
                   for cid, _ in customers for _ in range(rng.randint(0, 2))]
    db.session.execute(insert(Membership), memberships)
    for email in rng.sample(sorted({e for _, e in customers}), 12):
        db.session.add(Suppression(email=email, reason=rng.choice(("unsubscribed", "bounced")), source="test"))
    db.session.commit()
    return products, dict(customers), memberships


def _expected(customers, memberships, products, statuses, direct):
    product_ids = {p.id for p in products}
    targeted = set(direct) | {m["customer_id"] for m in memberships
                              if m["product_id"] in product_ids and m["status"] in statuses}
    lowest = {}
    for cid in sorted(targeted):
        lowest.setdefault(customers[cid], cid)
    return targeted, lowest


def test_counts_and_plan_match_brute_force(app, db):
    rng = random.Random(42)
    products, customers, memberships = _network(db, rng)
    suppressed = dict(db.session.execute(select(Suppression.email, Suppression.reason)).all())
    direct = rng.sample(sorted(customers), 15)
    run = make_run(customers=[db.session.get(Customer, cid) for cid in direct], products=products[:2],
                   product_statuses=["active", "trialing"])
    targeted, lowest = _expected(customers, memberships, products[:2], {"active", "trialing"}, direct)
    assert len(lowest) < len(targeted)  # the network really shares addresses inside the audience

    counts = count_audience(run.broadcast)
    excluded = {}
    for email in lowest:
        if email in suppressed:
            excluded[suppressed[email]] = excluded.get(suppressed[email], 0) + 1
    assert (counts.customers, counts.addresses, counts.excluded) == (len(targeted), len(lowest), excluded)

    plan_run(run.id)
    ledger = dict(db.session.execute(select(Delivery.email, Delivery.customer_id)
                                     .where(Delivery.run_id == run.id)).all())
    assert ledger == lowest
    duplicates = set(db.session.scalars(select(DeliveryDuplicate.customer_id)
                                        .where(DeliveryDuplicate.run_id == run.id)))
    assert duplicates == targeted - set(lowest.values())
    planned = db.session.get(BroadcastRun, run.id)
    assert planned.total == len(lowest) - sum(excluded.values())
    assert planned.excluded == sum(excluded.values()) + len(duplicates)
