"""A customer's write costs the same at 40 customers as at 4,000, in one connection (issue 14 §6):
the counter triggers (migrations 0016, 0020, 0021) read the large tables by index probes only, whatever
plans the connection made while the tables were small, or makes again on the grown network with
statistics that favour scans, and never JIT-compile; and so does an audience count (0020). Cost is counted, not timed: the rows the
statement reads on PostgreSQL (``pg_stat_xact_user_tables``), the virtual-machine steps it runs
on SQLite (its progress handler)."""
import pytest
from sqlalchemy import delete, func, insert, select, text, update

from app.broadcasts.audience import count_audience
from app.broadcasts.models import Broadcast, BroadcastTarget
from app.mail.suppression import Suppression
from app.network.models import Customer, Membership, Product

TABLES = ("customers", "addresses", "shared_addresses", "suppressions", "suppressed_customers", "memberships",
          "membership_combos", "membership_combo_items", "membership_combo_counts", "customer_combos")
READ = text("SELECT coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0) "
            "FROM pg_stat_xact_user_tables WHERE relname = ANY (:tables)").bindparams(tables=list(TABLES))
ADDRESS = func.lower(Customer.email)  # indexed (ix_customers_email_lower)
WRITES = {  # name: a statement writing one row, for the n-th round
    "insert new address": lambda n: insert(Customer).values(email=f"new{n}@example.com", name="New"),
    "insert shared address": lambda n: insert(Customer).values(email="Shared@example.com", name="Sharer"),
    "insert suppressed address": lambda n: insert(Customer).values(email="quiet@example.com", name="Quiet"),
    "add a membership": lambda n: insert(Membership).values(
        customer_id=select(Customer.id).where(ADDRESS == f"new{n}@example.com").scalar_subquery(),
        product_id=select(func.min(Product.id)).scalar_subquery(), status="active"),
    "expire it": lambda n: update(Membership).where(Membership.customer_id == select(Customer.id).where(
        ADDRESS == f"new{n}@example.com").scalar_subquery()).values(status="expired"),
    "change an address": lambda n: update(Customer).where(ADDRESS == f"new{n}@example.com")
                                                  .values(email=f"moved{n}@example.com"),
    "delete a customer": lambda n: delete(Customer).where(ADDRESS == f"moved{n}@example.com"),
    "suppress a used address": lambda n: insert(Suppression).values(email="shared@example.com",
                                                                    reason="bounced", source="test"),
    "unsuppress it": lambda n: delete(Suppression).where(Suppression.email == "shared@example.com"),
}


def _cost(db, statement) -> int:
    """What running ``statement`` (with its triggers, or a function of no argument) costs in the
    session's connection."""
    run = statement if callable(statement) else lambda: db.session.execute(statement)
    if db.engine.dialect.name == "postgresql":
        before = db.session.scalar(READ)
        run()
        return int(db.session.scalar(READ) - before)
    driver = db.session.connection().connection.driver_connection
    steps = [0]

    def count():
        steps[0] += 1
        return 0

    driver.set_progress_handler(count, 1)
    try:
        run()
    finally:
        driver.set_progress_handler(None, 1)
    return steps[0]


def _costs(db, round_: int) -> dict:
    return {name: _cost(db, write(round_)) for name, write in WRITES.items()}


def _grow(db, count: int, addresses: int = 0) -> None:
    """``count`` more customers, each with an address of its own (or one of ``addresses``) and a
    membership of the first product in one of two statuses, in bulk (multi-row statements)."""
    start = db.session.scalar(select(func.count()).select_from(Customer))
    db.session.execute(insert(Customer), [{"email": f"bulk{(start + n) % (addresses or count + start)}@example.com",
                                           "name": "Bulk"}
                                          for n in range(count)])
    product = db.session.scalar(select(func.min(Product.id)))
    ids = db.session.scalars(select(Customer.id).where(Customer.name == "Bulk").order_by(Customer.id.desc())
                             .limit(count)).all()
    db.session.execute(insert(Membership), [{"customer_id": i, "product_id": product,
                                             "status": ("active", "trialing")[i % 2]} for i in ids])
    db.session.flush()


def test_a_customer_write_costs_the_same_at_100_times_the_customers(app, db):
    db.session.add(Product(slug="plan", name="Plan"))
    db.session.execute(insert(Suppression).values(email="quiet@example.com", reason="unsubscribed",
                                                  source="test"))
    db.session.execute(insert(Customer).values(email="shared@example.com", name="First"))
    _grow(db, 36)
    _costs(db, 0)  # the connection plans its trigger statements while the tables are small
    small = _costs(db, 1)
    _grow(db, 4000)
    large = _costs(db, 2)
    assert db.session.scalar(select(func.count()).select_from(Customer)) > 4000
    grown = {name: (small[name], large[name]) for name in WRITES if large[name] > small[name] * 1.2 + 20}
    assert not grown, f"cost at ~40 and at ~4,000 customers: {grown}"


def test_an_audience_count_costs_the_same_at_100_times_the_members(app, db):
    db.session.add(Product(slug="plan", name="Plan"))
    db.session.execute(insert(Suppression).values(email="bulk3@example.com", reason="bounced", source="test"))
    _grow(db, 40)
    product = db.session.scalar(select(func.min(Product.id)))
    broadcast = Broadcast(kind="email", subject="s", body_html="b", product_statuses=["active", "trialing"])
    broadcast.targets.append(BroadcastTarget(product_id=product))
    db.session.add(broadcast)
    db.session.flush()
    _cost(db, lambda: count_audience(broadcast))
    small = _cost(db, lambda: count_audience(broadcast))
    _grow(db, 4000)
    large = _cost(db, lambda: count_audience(broadcast))
    assert count_audience(broadcast).customers == 4040
    assert large <= small * 1.2 + 20, f"cost at 40 and at 4,040 members: {small}, {large}"


def test_a_customer_write_reads_by_probes_whatever_the_statistics(app, db):
    """The plans a connection makes again on a grown network (after an ANALYZE, or any other
    invalidation) probe too, even when the statistics make scanning look cheaper: here 4,000
    customers share 40 addresses, so a probe per customer of an address looks dearer than
    reading every membership."""
    db.session.add(Product(slug="plan", name="Plan"))
    db.session.execute(insert(Suppression).values(email="quiet@example.com", reason="unsubscribed",
                                                  source="test"))
    db.session.execute(insert(Customer).values(email="shared@example.com", name="First"))
    _grow(db, 36)
    _costs(db, 0)
    small = _costs(db, 1)
    _grow(db, 4000, addresses=40)
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE customers, memberships"))
    large = _costs(db, 2)
    grown = {name: (small[name], large[name]) for name in WRITES if large[name] > small[name] * 1.2 + 20}
    assert not grown, f"cost at ~40 and, planned again, at ~4,000 customers: {grown}"


def test_the_counter_triggers_are_never_jit_compiled(app, db):
    """A generic plan's estimated cost grows with the tables, past ``jit_above_cost`` at a few
    hundred thousand customers, and JIT compiling then cost 25-40 ms an execution of statements
    that run in well under a millisecond (0021): the trigger functions run with ``jit = off``."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("JIT compilation is PostgreSQL's")
    functions = db.session.execute(text(
        "SELECT DISTINCT p.proname, p.proconfig FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
        "WHERE t.tgrelid IN ('customers'::regclass, 'memberships'::regclass, 'suppressions'::regclass) "
        "AND NOT t.tgisinternal UNION SELECT proname, proconfig FROM pg_proc "
        "WHERE proname IN ('herald_reach', 'herald_combo_ids')")).all()
    assert len(functions) == 8
    assert [name for name, config in functions if "jit=off" not in (config or [])] == []
