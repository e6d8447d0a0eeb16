"""The addresses table counts each lower-cased customer address exactly, whatever writes the
customers: ORM inserts, bulk inserts, address changes (case-only ones count as no change) and deletes; shared_addresses lists exactly the customers
of the addresses used more than once."""
from sqlalchemy import delete, insert, select, update

from app.network.models import Address, Customer, SharedAddress


def _addresses(db):
    return dict(db.session.execute(select(Address.email, Address.customers)).all())


def _sharers(db):
    """{email: sorted ids of the customers sharing it}."""
    sharers = {}
    for customer_id, email in db.session.execute(select(SharedAddress.customer_id, SharedAddress.email)):
        sharers.setdefault(email, []).append(customer_id)
    return {email: sorted(ids) for email, ids in sharers.items()}


def test_orm_and_bulk_inserts_count_each_address(app, db):
    db.session.add_all([Customer(email="a@example.com", name="A"), Customer(email="b@example.com", name="B")])
    db.session.commit()
    db.session.execute(insert(Customer), [{"email": "a@example.com", "name": "A2"},
                                          {"email": "c@example.com", "name": "C"},
                                          {"email": "c@example.com", "name": "C2"}])
    db.session.commit()
    assert _addresses(db) == {"a@example.com": 2, "b@example.com": 1, "c@example.com": 2}
    ids = dict(db.session.execute(select(Customer.name, Customer.id)).all())
    assert _sharers(db) == {"a@example.com": sorted([ids["A"], ids["A2"]]),
                            "c@example.com": sorted([ids["C"], ids["C2"]])}


def test_changing_and_deleting_keeps_counts_exact(app, db):
    db.session.add_all([Customer(email=f"{who}@example.com", name=who) for who in ("a", "a", "b")])
    db.session.commit()
    first, second, third = db.session.scalars(select(Customer).order_by(Customer.id)).all()

    assert _sharers(db) == {"a@example.com": [first.id, second.id]}
    second.email = "b@example.com"
    db.session.commit()
    assert _addresses(db) == {"a@example.com": 1, "b@example.com": 2}
    assert _sharers(db) == {"b@example.com": [second.id, third.id]}

    third.email = "B@Example.com"  # the same address, differently cased
    db.session.commit()
    assert _addresses(db) == {"a@example.com": 1, "b@example.com": 2}

    db.session.execute(update(Customer).values(name="Renamed"))  # no address changes at all
    db.session.commit()
    assert _addresses(db) == {"a@example.com": 1, "b@example.com": 2}

    db.session.delete(first)
    db.session.commit()
    assert _addresses(db) == {"b@example.com": 2}
    assert _sharers(db) == {"b@example.com": [second.id, third.id]}

    db.session.execute(delete(Customer).where(Customer.id == second.id))
    db.session.commit()
    assert _addresses(db) == {"b@example.com": 1}
    assert _sharers(db) == {}
