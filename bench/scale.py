"""`python -m bench.scale`: no cost that grows with the network, measured from 10,000 customers up.

In one database connection: customer writes at 10,000 customers, seeding to ``--customers`` (its
rate per step), the same writes again at full size (statistics as the seeding left them, the
triggers' plans cached since 10,000), then in a fresh connection after ANALYZE. Then the admin
with ``--products`` products and ``--suppressions`` suppressions: audience counts, an API draft
create and the list pages. Starts from an empty database (``BENCH_SCALE_DATABASE_URL``, default
``herald_scale``; ``--sqlite`` uses bench/work/scale.db) and writes bench/results-scale.json.
"""
import argparse
import json
import os
import random
import time

from sqlalchemy import func, select

from app.core.extensions import db
from app.network.cli import _fix_sequences, seed_customers, seed_products
from app.network.models import Customer, Product

from .admin import (api_create_latency, audience_latencies, ensure_broadcasts, ensure_suppressions, page_latencies,
                    vacuum)
from .run import HERE, ensure_pg_database, log, make_app
from .seed import analyze, bench_product
from .writes import write_rates

SCALE_URL = os.environ.get("BENCH_SCALE_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/herald_scale")


class _Quiet:
    def update(self, n):
        pass


def empty_database(url: str) -> None:
    """Drop everything in the benchmark database (PostgreSQL schema or SQLite file)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        if os.path.exists(path):
            os.remove(path)
        return
    import psycopg

    ensure_pg_database(url)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")


def grow(to: int, product_ids: list[int], rng, step: int) -> list[dict]:
    """Seed (``flask seed-demo``'s code, this connection) up to ``to`` customers; the rate of
    each ``step`` customers."""
    rates = []
    have = db.session.scalar(select(func.count()).select_from(Customer))
    while have < to:
        size = min(step, to - have)
        started = time.perf_counter()
        seed_customers(size, product_ids, rng, _Quiet())
        seconds = time.perf_counter() - started
        have += size
        rates.append({"customers": have, "seconds": round(seconds, 1), "per_s": round(size / seconds)})
        log(f"  {have:,} customers ({size / seconds:,.0f}/s)")
    _fix_sequences("products", "customers", "sites", "memberships")
    db.session.commit()
    return rates


def run(args) -> dict:
    url = f"sqlite:///{HERE / 'work' / 'scale.db'}" if args.sqlite else SCALE_URL
    if args.admin_only:
        app, results = make_app(url), {"database": url.rsplit("/", 1)[1], "args": vars(args)}
        with app.app_context():
            product_ids = db.session.scalars(select(Product.id).where(~Product.slug.like("bench-%"))
                                             .order_by(Product.id)).all()
            admin(app, args, product_ids, results)
        return results
    empty_database(url)
    app = make_app(url, args.revision)
    results = {"database": url.rsplit("/", 1)[1], "args": vars(args),
               "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load_average_at_start": os.getloadavg()}
    with app.app_context():
        rng = random.Random(42)
        product_ids = seed_products(args.products, rng)
        db.session.commit()
        log(f"seeding {args.start:,} customers")
        grow(args.start, product_ids, rng, args.start)
        ensure_suppressions(args.start // 10, statistics=False)  # so that writes meet some
        results["writes_start"] = write_rates()
        log(f"writes at {args.start:,}: {results['writes_start']}")
        started = time.perf_counter()
        results["seeding"] = grow(args.customers, product_ids, rng, args.step)
        seconds = time.perf_counter() - started
        results["seeding_total"] = {"customers": args.customers - args.start, "seconds": round(seconds, 1),
                                    "per_s": round((args.customers - args.start) / seconds)}
        results["writes_full_same_connection"] = write_rates()
        log(f"writes at {args.customers:,}, same connection: {results['writes_full_same_connection']}")
        analyze("customers", "sites", "memberships", "addresses", "shared_addresses")
        db.session.remove()
        db.engine.dispose()
        results["writes_full_fresh_connection"] = write_rates()
        log(f"writes at {args.customers:,}, fresh connection: {results['writes_full_fresh_connection']}")
        if args.revision == "heads" and not args.sqlite:
            admin(app, args, product_ids, results)
    return results


def admin(app, args, product_ids: list[int], results: dict) -> None:
    """The admin's counts and pages at full size."""
    log(f"{args.suppressions:,} suppressions, broadcasts, a product with {args.customers // 2:,} members")
    results["suppressions"] = ensure_suppressions(args.suppressions)
    ensure_broadcasts(60, product_ids)
    half = bench_product(f"bench-{args.customers // 2}", args.customers // 2)
    vacuum("customers", "sites", "memberships", "suppressions", "suppressed_customers", "addresses",
           "shared_addresses", "membership_counts", "broadcasts", "broadcast_targets", "customer_combos",
           "membership_combo_counts", "membership_combo_items", "address_reach", "address_combo_counts")
    audiences = {"one product": product_ids[:1], "ten products": product_ids[:10],
                 f"all {len(product_ids)} products": product_ids,
                 f"product with {args.customers // 2:,} members": [half.id]}
    log("audience counts")
    results["audience_counts"] = audience_latencies(audiences)
    results["api_create_draft"] = api_create_latency(app, product_ids[0])
    log("list pages")
    results["pages"] = page_latencies(app)
    results["products"] = db.session.scalar(select(func.count()).select_from(Product))
    results["admin_load"] = round(os.getloadavg()[0], 1)


def print_writes(results: dict) -> None:
    print(f"\nDatabase {results['database']}: customers per second (backend CPU per customer, µs)")
    print(f"{'':40}{'insert x1':>16}{'insert x1000':>16}{'email x1':>16}{'delete x1000':>16}{'load':>6}")
    for key in ("writes_start", "writes_full_same_connection", "writes_full_fresh_connection"):
        w = results[key]
        cells = "".join(f"{w[f'{name}_per_s']:>9} ({w.get(f'{name}_cpu_us', '-'):>4})"
                        for name in ("insert_1", "insert_1000", "update_email_1", "delete_1000"))
        print(f"{key + ' @ ' + format(w['customers'], ','):40}{cells}{w['load']:>6}")
    s = results["seeding_total"]
    print(f"seeding {s['customers']:,} customers: {s['seconds']} s ({s['per_s']:,}/s)")


def summarise(results: dict) -> None:
    if "writes_start" in results:
        print_writes(results)
    for name, count in results.get("audience_counts", {}).items():
        before = count["before"]
        print(f"count {name:34} {count['median_ms']:>7} ms, backend CPU {count['backend_cpu_ms']:>5} ms; "
              f"before {before['median_ms']:>7} ms, CPU {before['backend_cpu_ms']:>5} ms ({count['customers']:,} customers)")
    if "api_create_draft" in results:
        print(f"API create draft{'':29} {results['api_create_draft']['median_ms']:>8} ms")
    for url, page in results.get("pages", {}).items():
        print(f"GET {url:41} {page['median_ms']:>8} ms (max {page['max_ms']}, backend CPU {page['backend_cpu_ms']} ms)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--start", type=int, default=10_000, help="customers at the first measurement")
    parser.add_argument("--step", type=int, default=100_000, help="customers per reported seeding step")
    parser.add_argument("--products", type=int, default=20)
    parser.add_argument("--suppressions", type=int, default=100_000)
    parser.add_argument("--revision", default="heads", help="migrate only to this revision (an older schema)")
    parser.add_argument("--sqlite", action="store_true", help="the writes on SQLite instead")
    parser.add_argument("--admin-only", action="store_true", help="only the admin part, on the database as it is")
    args = parser.parse_args()
    results = run(args)
    summarise(results)
    name = ("results-scale" + ("-sqlite" if args.sqlite else "") + ("" if args.revision == "heads" else "-before")
            + ("-admin" if args.admin_only else ""))
    (HERE / f"{name}.json").write_text(json.dumps(results, indent=2))
    if not args.admin_only:
        record(results, name.removeprefix("results-").replace("-", "_"))


def record(results: dict, key: str) -> None:
    """Keep a whole run's results as ``key`` (``scale``, ``scale_before``, ``scale_sqlite``) in
    bench/results.json, beside `make bench`'s."""
    path = HERE / "results.json"
    kept = json.loads(path.read_text()) if path.exists() else {}
    kept[key] = results
    path.write_text(json.dumps(kept, indent=2))


if __name__ == "__main__":
    main()
