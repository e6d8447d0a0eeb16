"""The audience count from membership combinations (migration 0020) equals the count from the
memberships themselves, over randomised networks, writes and targetings (Hypothesis), and stays
exact when two transactions change one customer's memberships at once (PostgreSQL)."""
import threading

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select, text, update

from app.broadcasts.audience import count_audience, count_audience_directly
from app.broadcasts.models import Broadcast, BroadcastTarget
from app.mail.suppression import REASONS, Suppression
from app.network.models import (MEMBERSHIP_STATUSES, Customer, CustomerCombo, Membership, MembershipComboCount,
                                MembershipComboItem, Product)

CUSTOMERS, PRODUCTS = 6, 3
STATUSES = MEMBERSHIP_STATUSES[:3]
C, P, S = st.integers(0, CUSTOMERS - 1), st.integers(0, PRODUCTS - 1), st.sampled_from(STATUSES)
OPS = st.one_of(
    st.tuples(st.just("member"), C, P, S), st.tuples(st.just("member"), C, P, S),
    st.tuples(st.just("status"), st.integers(0, 30), S),
    st.tuples(st.just("drop"), st.integers(0, 30)),
    st.tuples(st.just("bulk status"), P, S, S),
    st.tuples(st.just("delete customer"), C),
    st.tuples(st.just("suppress"), C, st.sampled_from(REASONS)),
    st.tuples(st.just("unsuppress"), C),
    st.tuples(st.just("address"), C, C),
)
TARGETS = st.tuples(st.sets(P), st.sets(S, min_size=1), st.sets(C, max_size=3))
FUZZ = dict(derandomize=True, database=None, deadline=None, phases=(Phase.explicit, Phase.generate),
            suppress_health_check=list(HealthCheck), max_examples=60, print_blob=False)


def assert_combos_exact(db):
    """Each customer's combination is its (product, status) pairs, and each count its holders."""
    held = {}
    for customer_id, product_id, status in db.session.execute(
            select(Membership.customer_id, Membership.product_id, Membership.status)):
        held.setdefault(customer_id, set()).add((product_id, status))
    items = {}
    for combo_id, product_id, status in db.session.execute(
            select(MembershipComboItem.combo_id, MembershipComboItem.product_id, MembershipComboItem.status)):
        items.setdefault(combo_id, set()).add((product_id, status))
    combos = dict(db.session.execute(select(CustomerCombo.customer_id, CustomerCombo.combo_id)).all())
    assert {c: items[k] for c, k in combos.items()} == held
    counts = {k: n for k, n in db.session.execute(select(MembershipComboCount.combo_id,
                                                         func.sum(MembershipComboCount.customers))
                                                  .group_by(MembershipComboCount.combo_id)) if n}
    assert counts == {k: list(combos.values()).count(k) for k in set(combos.values())}


def _apply(db, op, customers, products):
    kind, *args = op
    memberships = db.session.scalars(select(Membership.id).order_by(Membership.id)).all()
    if kind == "member" and customers[args[0]]:
        db.session.execute(insert(Membership).values(customer_id=customers[args[0]], product_id=products[args[1]],
                                                     status=args[2]))
    elif kind == "status" and memberships:
        db.session.execute(update(Membership).where(Membership.id == memberships[args[0] % len(memberships)])
                           .values(status=args[1]))
    elif kind == "drop" and memberships:
        db.session.execute(delete(Membership).where(Membership.id == memberships[args[0] % len(memberships)]))
    elif kind == "bulk status":  # one statement changing many customers (expiry)
        db.session.execute(update(Membership).where(Membership.product_id == products[args[0]],
                                                    Membership.status == args[1]).values(status=args[2]))
    elif kind == "delete customer" and customers[args[0]]:
        if db.engine.dialect.name == "sqlite":  # no foreign keys enforced: what PostgreSQL's cascade does
            db.session.execute(delete(Membership).where(Membership.customer_id == customers[args[0]]))
        db.session.execute(delete(Customer).where(Customer.id == customers[args[0]]))
        customers[args[0]] = None
    elif kind == "suppress":
        db.session.execute(insert(Suppression).prefix_with("OR IGNORE", dialect="sqlite")
                           .values(email=f"c{args[0]}@example.com", reason=args[1], source="test")
                           if db.engine.dialect.name == "sqlite" else
                           text("INSERT INTO suppressions (email, reason, source, created_at) VALUES "
                                "(:e, :r, 'test', now()) ON CONFLICT DO NOTHING"),
                           {"e": f"c{args[0]}@example.com", "r": args[1]})
    elif kind == "unsuppress":
        db.session.execute(delete(Suppression).where(Suppression.email == f"c{args[0]}@example.com"))
    elif kind == "address" and customers[args[0]]:
        db.session.execute(update(Customer).where(Customer.id == customers[args[0]])
                           .values(email=f"C{args[1]}@Example.com"))


@given(ops=st.lists(OPS, max_size=25), targetings=st.lists(TARGETS, min_size=1, max_size=3))
@settings(**FUZZ)
def test_counts_from_combinations_equal_the_counts_from_memberships(app, db, ops, targetings):
    for table in (Broadcast, Membership, Customer, Product, Suppression):
        db.session.execute(delete(table))
    products = [db.session.scalar(insert(Product).values(slug=f"p{n}", name=f"P{n}").returning(Product.id))
                for n in range(PRODUCTS)]
    customers = [db.session.scalar(insert(Customer).values(email=f"c{n}@example.com", name=f"C{n}")
                                   .returning(Customer.id)) for n in range(CUSTOMERS)]
    for op in ops:
        _apply(db, op, customers, products)
    db.session.expire_all()
    assert_combos_exact(db)
    for product_indexes, statuses, customer_indexes in targetings:
        broadcast = Broadcast(kind="email", subject="s", body_html="b", product_statuses=sorted(statuses))
        broadcast.targets.extend(BroadcastTarget(product_id=products[p]) for p in sorted(product_indexes))
        broadcast.targets.extend(BroadcastTarget(customer_id=customers[c]) for c in sorted(customer_indexes)
                                 if customers[c])
        db.session.add(broadcast)
        db.session.flush()
        assert count_audience(broadcast) == count_audience_directly(broadcast), (ops, product_indexes, statuses)


@pytest.fixture
def pg(app, db, committed):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers are checked on PostgreSQL (TEST_DATABASE_URL)")
    return db


@pytest.mark.postgres_only
@pytest.mark.parametrize("same_customer", [True, False], ids=["one-customer", "two-customers"])
def test_two_transactions_change_memberships_at_once(pg, same_customer):
    """The second writer of one customer waits for the first and reads its membership (else it
    would overwrite the customer's combination with one missing it); writers of two customers
    that reach a new combination at once both count in it."""
    products = [pg.session.scalar(insert(Product).values(slug=f"p{n}", name="P").returning(Product.id))
                for n in range(2)]
    ann, bob = (pg.session.scalar(insert(Customer).values(email=f"{n}@example.com", name=n).returning(Customer.id))
                for n in ("ann", "bob"))
    for customer in (ann, bob):
        pg.session.execute(insert(Membership).values(customer_id=customer, product_id=products[0]))
    pg.session.commit()
    add = text("INSERT INTO memberships (customer_id, product_id, status, started_at) VALUES (:c, :p, :s, now())")
    errors = []
    with pg.engine.connect() as one, pg.engine.connect() as two:
        one.begin()
        one.execute(add, {"c": ann, "p": products[1], "s": "active"})

        def later():
            try:
                with two.begin():
                    two.execute(add, {"c": ann if same_customer else bob, "p": products[1],
                                      "s": "trialing" if same_customer else "active"})
            except Exception as error:  # reported below
                errors.append(error)

        thread = threading.Thread(target=later)
        thread.start()
        thread.join(0.5)
        one.commit()
        thread.join(10)
    assert not errors and not thread.is_alive(), errors
    pg.session.rollback()
    assert_combos_exact(pg)
    broadcast = Broadcast(kind="email", subject="s", body_html="b", product_statuses=["active"])
    broadcast.targets.append(BroadcastTarget(product_id=products[1]))
    pg.session.add(broadcast)
    pg.session.flush()
    assert count_audience(broadcast).customers == (1 if same_customer else 2)
    assert count_audience(broadcast) == count_audience_directly(broadcast)
