"""The counters kept by triggers (migration 0016) stay exact whatever writes the tables: the
suppressed customers, the members per product and status, and the addresses beside them, also
when two transactions write at once (on PostgreSQL: a customer and a suppression of one address
serialise on the address's row)."""
import threading

import pytest
from sqlalchemy import delete, func, insert, select, text, update

from app.network.cli import insert_rows
from app.network.models import (Address, Customer, Membership, MembershipCount, Product, SharedAddress,
                                SuppressedCustomer)
from app.network.services import product_member_counts, set_membership_status
from app.mail.suppression import Suppression
from app.tracking.services import resubscribe, suppress


def suppressed(db) -> dict:
    """{customer id: (address, reason)} as the triggers keep it."""
    return {i: (e, r) for i, e, r in db.session.execute(
        select(SuppressedCustomer.customer_id, SuppressedCustomer.email, SuppressedCustomer.reason))}


def assert_exact(db):
    """Every counter equals what the tables say when counted from scratch."""
    email = func.lower(Customer.email)
    truth = {i: (e, r) for i, e, r in db.session.execute(
        select(Customer.id, Suppression.email, Suppression.reason).join(Suppression, Suppression.email == email))}
    assert suppressed(db) == truth
    members = dict(((p, s), n) for p, s, n in db.session.execute(
        select(Membership.product_id, Membership.status, func.count()).group_by(Membership.product_id, Membership.status)))
    kept = dict(((p, s), n) for p, s, n in db.session.execute(
        select(MembershipCount.product_id, MembershipCount.status, func.sum(MembershipCount.members))
        .group_by(MembershipCount.product_id, MembershipCount.status)) if n)
    assert kept == members
    addresses = dict(db.session.execute(select(email, func.count()).group_by(email)).all())
    assert dict(db.session.execute(select(Address.email, Address.customers)).all()) == addresses
    shared = {i for i, in db.session.execute(select(Customer.id).where(email.in_(
        [a for a, n in addresses.items() if n > 1])))}
    assert set(db.session.scalars(select(SharedAddress.customer_id))) == shared


def test_suppressing_an_address_lists_every_customer_using_it(app, db):
    db.session.add_all([Customer(email="ann@example.com", name="A"), Customer(email="Ann@Example.com", name="A2"),
                        Customer(email="bob@example.com", name="B")])
    db.session.commit()
    suppress("ann@example.com", "unsubscribed", "admin")
    db.session.commit()
    ids = dict(db.session.execute(select(Customer.name, Customer.id)).all())
    assert suppressed(db) == {ids["A"]: ("ann@example.com", "unsubscribed"),
                              ids["A2"]: ("ann@example.com", "unsubscribed")}
    suppress("ann@example.com", "bounced", "smtp")  # a stronger reason updates the row
    db.session.commit()
    assert set(suppressed(db).values()) == {("ann@example.com", "bounced")}
    assert resubscribe("ann@example.com", allowed=("bounced",)) is not None
    db.session.commit()
    assert suppressed(db) == {}
    assert_exact(db)


def test_customers_find_their_suppression_when_created_changed_or_deleted(app, db):
    suppress("gone@example.com", "bounced", "smtp")
    suppress("quiet@example.com", "unsubscribed", "link")
    suppress("nobody@example.com", "complained", "webhook")  # no customer uses it: no row, no address
    db.session.commit()
    carol = Customer(email="GONE@example.com", name="Carol")
    db.session.add(carol)
    db.session.commit()
    assert suppressed(db) == {carol.id: ("gone@example.com", "bounced")}
    carol.email = "quiet@example.com"
    db.session.commit()
    assert suppressed(db) == {carol.id: ("quiet@example.com", "unsubscribed")}
    carol.email = "Quiet@Example.com"  # the same address: nothing changes
    carol.name = "Carol Q"
    db.session.commit()
    assert suppressed(db) == {carol.id: ("quiet@example.com", "unsubscribed")}
    carol.email = "fine@example.com"
    db.session.commit()
    assert suppressed(db) == {}
    carol.email = "gone@example.com"
    db.session.commit()
    db.session.delete(carol)
    db.session.commit()
    assert suppressed(db) == {}
    assert "nobody@example.com" not in dict(db.session.execute(select(Address.email, Address.customers)).all())
    assert_exact(db)


def test_bulk_statements_keep_every_counter_exact(app, db):
    starter, pro = Product(slug="starter", name="Starter"), Product(slug="pro", name="Pro")
    db.session.add_all([starter, pro])
    db.session.execute(insert(Suppression), [{"email": f"c{n}@example.com", "reason": "unsubscribed",
                                              "source": "import"} for n in range(0, 40, 3)])
    db.session.commit()
    insert_rows(Customer, [{"id": n + 1, "email": f"c{n % 25}@example.com", "name": f"C{n}"} for n in range(40)])
    insert_rows(Membership, [{"customer_id": n + 1, "product_id": (starter.id, pro.id)[n % 2],
                              "status": ("active", "expired")[n % 3 == 0]} for n in range(40)])
    db.session.commit()
    assert_exact(db)
    db.session.execute(update(Customer).values(name="Renamed"))  # touches no address or counter
    db.session.execute(update(Membership).where(Membership.status == "expired").values(status="active"))
    db.session.execute(update(Membership).where(Membership.customer_id <= 10).values(product_id=pro.id))
    db.session.commit()
    assert_exact(db)
    # two customers swap addresses in one statement; others move onto a suppressed address
    db.session.execute(update(Customer).where(Customer.id.in_([1, 2])).values(
        email=func.replace(func.replace(func.replace(Customer.email, "c0@", "tmp@"), "c1@", "c0@"), "tmp@", "c1@")))
    db.session.execute(update(Customer).where(Customer.id.between(30, 35)).values(email="c3@example.com"))
    db.session.execute(delete(Suppression).where(Suppression.email.in_(["c6@example.com", "c9@example.com"])))
    db.session.execute(update(Suppression).where(Suppression.email == "c12@example.com").values(reason="complained"))
    db.session.commit()
    assert_exact(db)
    db.session.execute(delete(Customer).where(Customer.id % 4 == 0))  # memberships cascade
    db.session.execute(delete(Suppression))
    db.session.commit()
    assert_exact(db)


def test_member_counts_follow_status_changes_and_deletes(app, db, customer):
    starter = db.session.scalar(select(Product).where(Product.slug == "starter"))
    other = Product(slug="other", name="Other")
    db.session.add(other)
    db.session.add(Membership(customer=customer, product=other, status="trialing"))
    db.session.commit()
    assert product_member_counts([starter.id, other.id]) == {starter.id: {"active": 1}, other.id: {"trialing": 1}}
    membership = db.session.scalar(select(Membership).where(Membership.product_id == starter.id))
    set_membership_status(membership, "expired")
    db.session.commit()
    assert product_member_counts([starter.id]) == {starter.id: {"expired": 1}}
    membership.expires_at = membership.started_at  # no status change: no counter row written
    db.session.commit()
    db.session.execute(delete(Membership).where(Membership.product_id == other.id))
    db.session.commit()
    assert product_member_counts([starter.id, other.id]) == {starter.id: {"expired": 1}, other.id: {}}
    db.session.execute(delete(Membership).where(Membership.customer_id == customer.id))
    db.session.commit()
    assert product_member_counts([starter.id]) == {starter.id: {}}
    assert_exact(db)


def test_products_page_shows_the_kept_member_counts(admin_client, db, customer):
    page = admin_client.get("/network/products").get_data(as_text=True)
    assert "active: 1" in page
    db.session.execute(text("UPDATE memberships SET status = 'on-hold'"))
    db.session.commit()
    page = admin_client.get("/network/products").get_data(as_text=True)
    assert "on-hold: 1" in page and "active: 1" not in page


WRITES = {
    "customer": "INSERT INTO customers (email, name, locale, timezone, created_at) "
                "VALUES (:email, 'New', 'en', 'UTC', now())",
    "suppression": "INSERT INTO suppressions (email, reason, source, created_at) "
                   "VALUES (:email, 'bounced', 'test', now())",
    "unsuppress": "DELETE FROM suppressions WHERE email = :email",
    "member": "INSERT INTO memberships (customer_id, product_id, status, started_at) "
              "VALUES (:customer, :product, 'active', now())",
}


@pytest.fixture
def pg(app, db, committed):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers are checked on PostgreSQL (TEST_DATABASE_URL)")
    return db


def _write_while_first_is_open(db, first: str, second: str, params: dict) -> bool:
    """Run ``first`` in one transaction, ``second`` in another (in a thread) before the first
    commits; True when the second waited for the first."""
    errors = []
    with db.engine.connect() as one, db.engine.connect() as two:
        one.begin()
        one.execute(text(WRITES[first]), params)

        def later():
            try:
                with two.begin():
                    two.execute(text(WRITES[second]), params)
            except Exception as error:  # reported by the test below
                errors.append(error)

        thread = threading.Thread(target=later)
        thread.start()
        thread.join(0.5)
        waited = thread.is_alive()
        one.commit()
        thread.join(10)
    assert not errors and not thread.is_alive(), errors
    db.session.rollback()
    return waited


@pytest.mark.postgres_only
@pytest.mark.parametrize("used", [False, True], ids=["new-address", "used-address"])
@pytest.mark.parametrize("first, second", [("customer", "suppression"), ("suppression", "customer")])
def test_a_customer_and_a_suppression_of_one_address_written_at_once(pg, first, second, used):
    if used:
        pg.session.execute(text(WRITES["customer"]), {"email": "new@example.com"})
        pg.session.commit()
    assert _write_while_first_is_open(pg, first, second, {"email": "new@example.com"})
    assert len(suppressed(pg)) == (2 if used else 1)
    assert_exact(pg)


@pytest.mark.postgres_only
def test_a_customer_written_while_its_suppression_is_removed(pg):
    pg.session.execute(text(WRITES["suppression"]), {"email": "new@example.com"})
    pg.session.commit()
    _write_while_first_is_open(pg, "unsuppress", "customer", {"email": "new@example.com"})
    assert suppressed(pg) == {}
    assert_exact(pg)


@pytest.mark.postgres_only
def test_members_added_to_one_product_by_two_transactions_at_once(pg, customer):
    params = {"customer": customer.id, "product": customer.memberships.first().product_id}
    _write_while_first_is_open(pg, "member", "member", params)
    assert_exact(pg)
