"""`python -m bench.reach`: what migration 0020's triggers add to each write, at network size.

On the database as it is (``BENCH_SCALE_DATABASE_URL``, default ``herald_scale``, e.g. after
`python -m bench.scale`), in one connection: bench.writes' customer writes and membership writes
(one per statement, each committed: a membership added, its status changed as expiry does, and
the same memberships deleted 1,000 per statement), first with 0020's ``*_reach_*`` triggers
disabled, then enabled. Every write is undone by the round, so disabled triggers miss no net
change. Prints and keeps the result as ``reach_writes`` in bench/results.json.
"""
import json
import random
import statistics

from sqlalchemy import delete, func, insert, select, text, update

from app.core.extensions import db
from app.network.models import Customer, Membership, Product

from .run import HERE, log, make_app
from .scale import SCALE_URL
from .writes import _phase, backend_pid, write_rates

TABLES = ("customers", "memberships", "suppressions")


def set_triggers(enabled: bool) -> None:
    """Enable or disable migration 0020's triggers (PostgreSQL)."""
    for table in TABLES:
        for event in ("insert", "update", "delete"):
            db.session.execute(text(f"ALTER TABLE {table} {'ENABLE' if enabled else 'DISABLE'} "
                                    f"TRIGGER {table}_reach_{event}"))
    db.session.commit()


def _members_once(pid, customers: list[int], product: int) -> dict:
    result, ids = {}, []

    def add():
        for customer in customers:
            ids.append(db.session.scalar(insert(Membership).values(customer_id=customer, product_id=product,
                                                                   status="pending").returning(Membership.id)))
            db.session.commit()

    def expire():
        for membership in ids:
            db.session.execute(update(Membership).where(Membership.id == membership).values(status="expired"))
            db.session.commit()

    def remove():
        for start in range(0, len(ids), 1000):
            db.session.execute(delete(Membership).where(Membership.id.in_(ids[start:start + 1000])))
            db.session.commit()

    _phase(result, "member_insert_1", len(customers), pid, add)
    _phase(result, "member_status_1", len(ids), pid, expire)
    _phase(result, "member_delete_1000", len(ids), pid, remove)
    return result


def member_rates(singles: int = 200, repeats: int = 3) -> dict:
    """Memberships per second and backend CPU per membership (µs), medians of ``repeats``."""
    pid, rng = backend_pid(), random.Random(7)
    top = db.session.scalar(select(func.max(Customer.id)))
    product = db.session.scalar(select(func.min(Product.id)))
    rounds = [_members_once(pid, [rng.randint(1, top) for _ in range(singles)], product) for _ in range(repeats)]
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


def main():
    app = make_app(SCALE_URL)
    results = {}
    with app.app_context():
        for enabled in (False, True):
            set_triggers(enabled)
            name = "with_0019" if enabled else "without_0019"
            results[name] = {**write_rates(), **member_rates()}
            log(f"{name}: {results[name]}")
        set_triggers(True)
    path = HERE / "results.json"
    kept = json.loads(path.read_text()) if path.exists() else {}
    kept["reach_writes"] = results
    path.write_text(json.dumps(kept, indent=2))


if __name__ == "__main__":
    main()
