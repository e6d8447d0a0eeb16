"""Benchmark data: a network of N customers plus products whose members are exact ranges of ids."""
import random

from sqlalchemy import func, insert, literal, select, text

from app.core.extensions import db
from app.network.cli import _fix_sequences, seed_customers, seed_products
from app.network.models import Customer, Membership, Product
from app.core.utils import utcnow


class _Quiet:
    def update(self, n):
        pass


def ensure_customers(count: int) -> int:
    """Seed customers (with sites and memberships) until there are at least ``count``."""
    have = db.session.scalar(select(func.count()).select_from(Customer))
    if have < count:
        rng = random.Random(have)
        product_ids = list(db.session.scalars(select(Product.id).where(~Product.slug.like("bench-%"))))
        product_ids = product_ids or seed_products(10, rng)
        db.session.commit()
        seed_customers(count - have, product_ids, rng, _Quiet())
        _fix_sequences("products", "customers", "sites", "memberships")
        db.session.commit()
    if have < count or never_analyzed("sites"):
        analyze("customers", "sites", "memberships")
    return max(have, count)


def never_analyzed(table: str) -> bool:
    """True when PostgreSQL has no statistics for ``table`` (autovacuum off, as on the bench
    machine): plans then guess, e.g. the send's first-site lookup walks the sites' primary key."""
    if db.engine.dialect.name != "postgresql":
        return False
    row = db.session.execute(text("SELECT last_analyze, last_autoanalyze FROM pg_stat_user_tables "
                                  "WHERE relname = :name"), {"name": table}).first()
    return row is not None and row[0] is None and row[1] is None


def analyze(*tables: str) -> None:
    """Collect PostgreSQL statistics for ``tables``, as autovacuum would after a bulk insert."""
    if db.engine.dialect.name == "postgresql":
        db.session.commit()
        db.session.execute(text(f"ANALYZE {', '.join(tables)}"))
        db.session.commit()


def bench_product(slug: str, members: int) -> Product:
    """A product whose active members are the customers with the ``members`` lowest ids."""
    product = db.session.scalar(select(Product).where(Product.slug == slug))
    if product is None:
        product = Product(slug=slug, name=f"Bench {slug}", kind="plan", mailing_allowed_at=utcnow())
        db.session.add(product)
        db.session.commit()
        first = select(Customer.id).order_by(Customer.id).limit(members).subquery()
        db.session.execute(insert(Membership).from_select(
            ["customer_id", "product_id", "status", "started_at"],
            select(first.c.id, literal(product.id), literal("active"), func.now())))
        _fix_sequences("memberships")
        db.session.commit()
        analyze("memberships")
    return product


def vacuum_ledger() -> None:
    """VACUUM ANALYZE the delivery ledger, as autovacuum would between sends: earlier runs and
    the planning measurement leave millions of dead rows that every insert would wade through."""
    if db.engine.dialect.name == "postgresql":
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE deliveries, delivery_duplicates, addresses, shared_addresses"))
