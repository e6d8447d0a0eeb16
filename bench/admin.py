"""The admin at network size: audience counts, an API draft create and the list pages, with the
queries they replaced measured on the same data for comparison."""
import random
import statistics
import time

from sqlalchemy import func, select, text

from app.auth.services import create_user
from app.broadcasts.audience import count_audience, count_audience_directly
from app.broadcasts.models import Broadcast, BroadcastTarget
from app.core.extensions import db
from app.network.cli import insert_rows
from app.network.models import Customer, Membership, Product
from app.mail.suppression import Suppression
from app.core.utils import utcnow
from app.testing import login

from .seed import analyze
from .writes import backend_cpu, backend_pid

REASON_WEIGHTS = {"unsubscribed": 80, "bounced": 15, "complained": 5}
PAGES = ("/network/products", "/network/customers", "/network/sites", "/network/broadcasts/",
         "/network/suppressions/", "/network/customers?q=customer12345", "/network/suppressions/?reason=bounced")


def ensure_suppressions(count: int, statistics: bool = True) -> int:
    """Suppress addresses until there are ``count``: nine in ten of them customers' addresses
    (then ANALYZE the tables, unless ``statistics`` is false)."""
    have = db.session.scalar(select(func.count()).select_from(Suppression))
    top = db.session.scalar(select(func.max(Customer.id))) or 1
    rng, reasons = random.Random(have), list(REASON_WEIGHTS)
    while have < count:
        emails = {f"customer{rng.randint(1, top)}@example.com" if rng.random() < 0.9
                  else f"left{rng.randrange(10**9)}@example.org" for _ in range(min(10_000, count - have))}
        known = set(db.session.scalars(select(Suppression.email).where(Suppression.email.in_(emails))))
        insert_rows(Suppression, [{"email": e, "reason": rng.choices(reasons, REASON_WEIGHTS.values())[0],
                                   "source": "bench", "created_at": utcnow()} for e in sorted(emails - known)])
        db.session.commit()
        have += len(emails - known)
    if statistics:
        analyze("suppressions", "suppressed_customers", "addresses")
    return have


def ensure_broadcasts(count: int, product_ids: list[int]) -> None:
    """Some drafts and sent e-mails, so the broadcasts list has a full page."""
    have = db.session.scalar(select(func.count()).select_from(Broadcast))
    for n in range(have, count):
        broadcast = Broadcast(kind="email", subject=f"Bench {n}", body_html="<p>Hello</p>",
                              status=("draft", "sent")[n % 2], sent_at=utcnow() if n % 2 else None)
        broadcast.targets.append(BroadcastTarget(product_id=product_ids[n % len(product_ids)]))
        db.session.add(broadcast)
    db.session.commit()


def vacuum(*tables: str) -> None:
    """VACUUM ANALYZE ``tables`` as autovacuum would after bulk writes (off on the bench machine):
    statistics, and the visibility map that lets counts read the membership index alone."""
    if db.engine.dialect.name == "postgresql":
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f"VACUUM ANALYZE {', '.join(tables)}"))


def _timed(fn, repeats: int) -> dict:
    """Median and slowest wall time of ``repeats`` calls, and the median CPU time of the
    database backend serving them."""
    timings, cpu = [], []
    pid = backend_pid()
    for _ in range(repeats):
        started, used = time.perf_counter(), backend_cpu(pid)
        fn()
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((backend_cpu(pid) - used) * 1000)
        db.session.rollback()
    return {"median_ms": round(statistics.median(timings), 1), "max_ms": round(max(timings), 1),
            "backend_cpu_ms": round(statistics.median(cpu))}


def legacy_member_counts(product_ids) -> list:
    """The products list's member counts before: every membership of the page's products grouped."""
    return db.session.execute(select(Membership.product_id, Membership.status, func.count())
                              .where(Membership.product_id.in_(product_ids))
                              .group_by(Membership.product_id, Membership.status)).all()


def audience_latencies(audiences: dict, repeats: int = 5) -> dict:
    """``count_audience`` (uncached, from the membership combinations) for drafts targeting each
    {name: product ids}, and the count it replaced (``count_audience_directly``, main's query
    since migration 0016) on the same draft."""
    results = {}
    for name, product_ids in audiences.items():
        draft = Broadcast(kind="email", subject="count", body_html="count")
        draft.targets.extend(BroadcastTarget(product_id=p) for p in product_ids)
        db.session.add(draft)
        db.session.commit()
        counts = count_audience(draft)
        assert counts == count_audience_directly(draft), "the counts differ"
        db.session.rollback()
        results[name] = {"customers": counts.customers, "addresses": counts.addresses,
                         "excluded": counts.excluded, **_timed(lambda: count_audience(draft), repeats),
                         "before": _timed(lambda: count_audience_directly(draft), 2)}
        db.session.delete(draft)
        db.session.commit()
    return results


def _admin():
    from app.auth.models import User

    admin = User.find_by_email("bench-admin@example.com")
    if admin is None:
        admin = create_user("bench-admin@example.com", "bench-password", "Bench Admin", super_admin=True)
        db.session.commit()
    return admin


def page_latencies(app, repeats: int = 20) -> dict:
    """Each list page in process (Flask test client, logged in as a super admin): median and
    slowest of ``repeats`` requests after two warm-ups; and the replaced member-count query."""
    results = {}
    client = login(app.test_client(), _admin())
    for url in PAGES:
        for _ in range(2):
            assert client.get(url).status_code == 200, url
        results[url] = _timed(lambda: client.get(url), repeats)
    product_ids = db.session.scalars(select(Product.id).order_by(Product.id.desc()).limit(50)).all()
    results["before: products list member counts (query)"] = _timed(lambda: legacy_member_counts(product_ids), 3)
    return results


def api_create_latency(app, product_id: int, repeats: int = 5) -> dict:
    """POST /api/v1/broadcasts creating an e-mail draft for a product: it counts the audience."""
    from app.api.keys import issue_key

    _, secret = issue_key(_admin(), "bench")
    db.session.commit()
    client, created = app.test_client(), []

    def create():
        response = client.post("/api/v1/broadcasts", headers={"Authorization": f"Bearer {secret}"},
                               json={"kind": "email", "subject": "API bench", "product_ids": [product_id]})
        assert response.status_code == 201, response.get_data(as_text=True)
        created.append(response.get_json()["id"])

    result = _timed(create, repeats)
    for broadcast_id in created:
        db.session.delete(db.session.get(Broadcast, broadcast_id))
    db.session.commit()
    return result
