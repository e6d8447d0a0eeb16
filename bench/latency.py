"""Latency benchmarks: the customer dashboard over HTTP (gunicorn) and the wizard's audience count."""
import http.cookiejar
import random
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request

from sqlalchemy import func, select

from app.auth.models import User
from app.broadcasts.models import Broadcast, BroadcastRun, BroadcastTarget
from app.core.extensions import db
from app.network.models import Customer, Product

from .seed import analyze
from .sink import free_port
from .workers import ROOT, stop

PASSWORD = "bench-password"


def ensure_live_notices(count: int) -> int:
    """Publish notices until ``count`` are live, targeting products and single customers."""
    from app.broadcasts.sending import start_run
    from app.core.utils import utcnow

    live = db.session.scalar(select(func.count()).select_from(BroadcastRun)
                             .where(BroadcastRun.status == "published"))
    products = list(db.session.scalars(select(Product.id).where(~Product.slug.like("bench-%"))))
    rng = random.Random(7)
    top = db.session.scalar(select(func.max(Customer.id)))
    for n in range(live, count):
        notice = Broadcast(kind="notice", subject=f"Notice {n}", notice_type=("info", "success", "warning", "error")[n % 4],
                           body_html=f"<p>Hello {{{{ customer_first_name }}}}, notice number {n}.</p>",
                           status="draft")
        target = (BroadcastTarget(product_id=rng.choice(products)) if n % 5 else
                  BroadcastTarget(customer_id=rng.randint(1, top)))
        notice.targets.append(target)
        db.session.add(notice)
        db.session.flush()
        start_run(notice, utcnow())
        if n % 50 == 0:
            db.session.commit()
    db.session.commit()
    analyze("broadcasts", "broadcast_runs", "broadcast_targets", "notice_dismissals")  # as autovacuum would
    return count


def ensure_login(customer_id: int = 1) -> str:
    """A login for customer ``customer_id``; returns its e-mail address."""
    customer = db.session.get(Customer, customer_id)
    user = customer.user or User.find_by_email(customer.email)
    if user is None:
        user = User(email=customer.email, name=customer.name)
        db.session.add(user)
    user.set_password(PASSWORD)
    customer.user = user
    db.session.commit()
    return customer.email


def _opener():
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def _wait_http(url, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def dashboard_latency(env: dict, email: str, requests: int = 400) -> dict:
    """p50/p95 of GET /dashboard/ for a logged-in customer, over HTTP against gunicorn (2 workers)."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                               "wsgi:app"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(base + "/login")
        opener = _opener()
        page = opener.open(base + "/login").read().decode()
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": PASSWORD}).encode()
        opener.open(base + "/login", data=form).read()
        timings, notices = [], 0
        for n in range(requests + 20):
            started = time.perf_counter()
            body = opener.open(base + "/dashboard/").read()
            if n >= 20:
                timings.append((time.perf_counter() - started) * 1000)
            notices = body.count(b'class="notice notice-')
    finally:
        stop([server])
    timings.sort()
    return {"requests": requests, "notices_shown": notices,
            "p50_ms": round(statistics.median(timings), 2),
            "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2)}


def count_latency(product, repeats: int = 5) -> dict:
    """The wizard's audience count (uncached) for a draft targeting ``product``."""
    from app.broadcasts.audience import count_audience

    draft = Broadcast(kind="email", subject="count", body_html="count")
    draft.targets.append(BroadcastTarget(product_id=product.id))
    db.session.add(draft)
    db.session.commit()
    timings, counts = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        counts = count_audience(draft)
        timings.append((time.perf_counter() - started) * 1000)
        db.session.rollback()
    db.session.delete(draft)
    db.session.commit()
    return {"customers": counts.customers, "addresses": counts.addresses,
            "median_ms": round(statistics.median(timings), 1), "min_ms": round(min(timings), 1)}
