"""``flask seed-demo``: a realistic fake network, up to millions of customers in minutes."""
import json
import random

import click
from flask.cli import with_appcontext
from sqlalchemy import func, insert, select, text

from ..audit.services import record
from ..auth.models import User
from ..core.extensions import db
from ..core.inputs import clean_name
from ..core.utils import utcnow
from ..mail.addresses import normalise_address
from .models import (
    MEMBERSHIP_STATUSES,
    PRODUCT_KINDS,
    Customer,
    Membership,
    Product,
    Site,
)
from .services import expire_due_memberships

FIRST = ("Ada", "Bram", "Chloé", "Daan", "Eva", "Femke", "Gijs", "Hana", "Ivo", "Jade", "Kees",
         "Lotte", "Milan", "Noor", "Otto", "Pien", "Quinn", "Ruben", "Sanne", "Tim", "Umar", "Vera")
LAST = ("de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Vos",
        "Peters", "Hendriks", "Dekker", "Brouwer", "Dijkstra", "Kok", "Garcia", "Nguyen", "Okafor")
PRODUCT_NAMES = ("Starter", "Business", "Agency", "Premium Support", "Domain Pack", "SEO Boost",
                 "Backup Plus", "E-commerce", "Nonprofit", "Enterprise")
STATUS_WEIGHTS = (60, 12, 6, 5, 9, 8)  # active, trialing, pending, on-hold, expired, cancelled
DEMO_PASSWORD = "demo-customer"
BATCH = 5000
DEMO_ADDRESS = "customer@example.com"  # customer<n>@example.com (example.com: RFC 2606)


def insert_rows(model, rows: list[dict]) -> None:
    """Insert ``rows`` (dicts with the same keys) fast: on PostgreSQL as one statement reading a
    JSON array, so the statement-level counter triggers run once for all of them (a list of
    parameters would run one statement, and the triggers, per row); elsewhere executemany."""
    if not rows:
        return
    table = model.__table__
    if db.engine.dialect.name != "postgresql":
        db.session.execute(table.insert(), rows)
        return
    defaults = {column.name: column.default.arg if column.default.is_scalar else column.default.arg(None)
                for column in table.columns if column.default is not None and column.name not in rows[0]}
    if defaults:
        rows = [{**defaults, **row} for row in rows]
    columns = ", ".join(f'"{name}"' for name in rows[0])
    db.session.execute(text(f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} FROM '
                            f'jsonb_populate_recordset(NULL::"{table.name}", CAST(:rows AS jsonb))'),
                       {"rows": json.dumps(rows, default=str)})


def _next_id(model) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def _fix_sequences(*tables):
    if db.engine.dialect.name != "postgresql":
        return
    for table in tables:
        db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                f"COALESCE((SELECT MAX(id) FROM {table}), 1))"))


def seed_products(count: int, rng) -> list[int]:
    """Create ``count`` products (plans, packages and services) and return their ids."""
    start = _next_id(Product)
    rows = []
    for n in range(count):
        name = PRODUCT_NAMES[n % len(PRODUCT_NAMES)]
        suffix = "" if n < len(PRODUCT_NAMES) else f" {n // len(PRODUCT_NAMES) + 1}"
        rows.append({"id": start + n, "slug": f"{name.lower().replace(' ', '-')}{suffix.replace(' ', '-')}-{start + n}",
                     "name": name + suffix, "kind": PRODUCT_KINDS[n % 3], "active": True,
                     "created_at": utcnow()})
    if rows:
        db.session.execute(insert(Product), rows)
    return [r["id"] for r in rows]


def seed_customers(count: int, product_ids: list[int], rng, progress) -> range:
    """Insert ``count`` customers with sites and memberships in batches, advancing ``progress``;
    returns the ids of the customers it inserted (consecutive, after every id already used).

    Addresses are ``customer<n>@example.com``: their pattern goes through the address rules
    (``normalise_address``) once; a number appended to a dot-atom keeps it valid, so the million
    generated addresses are not checked one by one (about 50 µs each)."""
    local, _, domain = normalise_address(DEMO_ADDRESS).partition("@")
    for part in (*FIRST, *LAST):  # names go through the rules of register_customer, once per part
        clean_name(part, "A demo name")
    customer_id, site_id, membership_id = _next_id(Customer), _next_id(Site), _next_id(Membership)
    now = utcnow()
    done = 0
    while done < count:
        size = min(BATCH, count - done)
        customers, sites, memberships = [], [], []
        for _ in range(size):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            shared = customer_id > 20 and rng.random() < 0.02  # some share an address
            email = f"{local}{rng.randrange(1, customer_id) if shared else customer_id}@{domain}"
            customers.append({"id": customer_id, "email": email, "name": f"{first} {last}",
                              "locale": rng.choice(("en", "nl", "fr", "de")),
                              "timezone": rng.choice(("UTC", "Europe/Amsterdam", "America/New_York")),
                              "created_at": now})
            for n in range(rng.randint(1, 3)):
                sites.append({"id": site_id, "customer_id": customer_id,
                              "title": f"{first}'s site {n + 1}", "path": f"s{site_id}",
                              "domain": f"site{site_id}.example.net" if n == 0 else None,
                              "status": "published" if rng.random() < 0.8 else "draft",
                              "created_at": now})
                site_id += 1
            for product_id in rng.sample(product_ids, k=min(len(product_ids), rng.randint(1, 2))):
                memberships.append({"id": membership_id, "customer_id": customer_id,
                                    "product_id": product_id, "started_at": now,
                                    "status": rng.choices(MEMBERSHIP_STATUSES, STATUS_WEIGHTS)[0]})
                membership_id += 1
            customer_id += 1
        insert_rows(Customer, customers)
        insert_rows(Site, sites)
        insert_rows(Membership, memberships)
        db.session.commit()
        done += size
        progress.update(size)
    return range(customer_id - count, customer_id)


def seed_demo_users(seeded: range) -> list[str]:
    """Give the first three customers of ``seeded`` (ids this seed created) a login with the known
    password DEMO_PASSWORD; return their e-mails, lowest id first. The caller commits.

    Only customers of ``seeded`` get one: a customer who was there before (a real person) never
    gets a login with a password printed in the README. One whose address already has a login
    (a shared demo address) is passed over.
    """
    password_hash = None
    emails = []
    if not seeded:
        return emails
    for customer in db.session.scalars(select(Customer).where(
            Customer.id.between(seeded.start, seeded[-1]), Customer.user_id.is_(None))
            .order_by(Customer.id).limit(3)):
        if User.find_by_email(customer.email):
            continue
        user = User(email=customer.email, name=customer.name)
        if password_hash is None:
            user.set_password(DEMO_PASSWORD)
            password_hash = user.password_hash
        user.password_hash = password_hash
        customer.user = user
        db.session.add(user)
        emails.append(customer.email)
    return emails


@click.command("seed-demo")
@click.option("--customers", "customer_count", default=200, show_default=True, type=click.IntRange(0, 10_000_000))
@click.option("--products", "product_count", default=6, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--seed", default=42, show_default=True, help="Random seed, for repeatable networks.")
@with_appcontext
def seed_demo_command(customer_count, product_count, seed):
    """Fill the network with fake customers, sites, products and memberships.

    A demo tool: the first three customers it creates get a login with the known password
    demo-customer (printed); customers already in the database never get one."""
    rng = random.Random(seed)
    product_ids = seed_products(product_count, rng)
    db.session.commit()
    with click.progressbar(length=customer_count, label="Seeding customers") as progress:
        seeded = seed_customers(customer_count, product_ids, rng, progress)
    _fix_sequences("products", "customers", "sites", "memberships")
    db.session.commit()
    emails = seed_demo_users(seeded)
    record("network.seeded", ("network", None, "demo data"),
           f"{customer_count} customers, {product_count} products, seed {seed}; customer logins: "
           f"{', '.join(emails) or 'none'}")
    db.session.commit()
    click.echo(f"Seeded {customer_count} customers and {product_count} products.")
    for email in emails:
        click.echo(f"  customer login: {email} / {DEMO_PASSWORD}")
    if not emails:
        click.echo("No customer logins: they are given only to customers this command seeds.")


@click.command("expire-memberships")
@with_appcontext
def expire_memberships_command():
    """Expire memberships whose end date has passed (fires membership_expired); run it from cron."""

    total = 0
    while True:
        count = expire_due_memberships()
        db.session.commit()
        total += count
        if count < 1000:
            break
    click.echo(f"Expired {total} membership(s).")
