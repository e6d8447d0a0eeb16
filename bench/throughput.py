"""End-to-end e-mail throughput: from Send until the last message is accepted by the SMTP sink."""
import time

from sqlalchemy import func, select

from app.broadcasts.models import Broadcast, BroadcastRun, BroadcastTarget
from app.core.extensions import db
from app.core.utils import utcnow

from .cpushare import CpuMeter
from .memory import children
from .workers import PeakMemory, start_workers, stop

BODY = """<h1>Hello {{ customer_first_name }}</h1>
<p>Dear {{ customer_name }}, this is the monthly news of the network for {{ customer_email }}.</p>
<p>Your site <a href="{{ site_url }}">{{ site_url }}</a> is doing well. Read
<a href="https://news.example.com/2026/november">the November news</a>, see the
<a href="https://status.example.com/">status page</a> or <a href="https://help.example.com/">get help</a>.</p>
""" + "<p>" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 25 + "</p>"
FINAL = ("sent", "failed", "cancelled", "paused")


def make_email_broadcast(product, admin=None) -> Broadcast:
    """An e-mail broadcast with personalisation and click tracking, targeting ``product``."""
    broadcast = Broadcast(kind="email", subject="News for {{ customer_first_name }}", body_html=BODY,
                          track_clicks=True, track_opens=False, author=admin)
    broadcast.targets.append(BroadcastTarget(product_id=product.id))
    db.session.add(broadcast)
    db.session.commit()
    return broadcast


def delivered(run_id: int) -> dict:
    """Counts of the run's ledger rows by status."""
    from app.delivery.models import Delivery

    rows = db.session.execute(select(Delivery.status, func.count()).where(Delivery.run_id == run_id)
                              .group_by(Delivery.status)).all()
    db.session.rollback()
    return dict(rows)


def send_and_wait(broadcast, workers: int, env: dict, timeout: float = 3600, simple=True) -> dict:
    """Send ``broadcast`` with ``workers`` worker processes; messages/s, worker peak RSS and the
    machine's CPU per message by kind of process (``bench.cpushare``; the workers are the clients)."""
    from app.broadcasts.sending import send_now

    processes = start_workers(workers, env, simple)
    memory = PeakMemory(processes)
    time.sleep(2.0)  # let the workers import the app and listen
    meter = CpuMeter(lambda: [pid for p in processes for pid in (p.pid, *children(p.pid))])
    try:
        meter.start()
        started, clicked = time.perf_counter(), utcnow()
        run = send_now(broadcast)
        db.session.commit()
        run_id = run.id
        counts, status = {}, "planning"
        while time.perf_counter() - started < timeout:
            time.sleep(0.25)
            status = db.session.scalar(select(BroadcastRun.status).where(BroadcastRun.id == run_id))
            db.session.rollback()
            if status in FINAL:
                break
        polled = time.perf_counter() - started
        counts = delivered(run_id)
        cpu = meter.stop(counts.get("sent", 0) or 1, polled)
        elapsed = send_seconds(run_id, clicked) or polled
        first = send_seconds(run_id, clicked, func.min)
    finally:
        peak = memory.stop()
        stop(processes)
    sent = counts.get("sent", 0)
    return {"workers": workers, "status": status, "sent": sent, "counts": counts,
            "seconds": round(elapsed, 3), "seconds_polled": round(polled, 2),
            "messages_per_second": round(sent / elapsed, 1), "worker_peak_rss_mb": peak,
            "first_accepted_seconds": round(first, 3) if first else None, "cpu_us_per_message": cpu}


def send_seconds(run_id: int, clicked, which=func.max) -> float | None:
    """Seconds from ``clicked`` (UTC, taken just before Send) to the last message accepted (its
    ledger ``sent_at``, written by the worker when it read the 250): the machine's one clock on
    both ends, so the poll's 0.25 s granularity is not counted; the audience count, planning and
    job start-up are. ``which=func.min``: to the first message accepted (what planning and the
    jobs' start took)."""
    from app.delivery.models import Delivery

    last = db.session.scalar(select(which(Delivery.sent_at)).where(Delivery.run_id == run_id))
    db.session.rollback()
    return (last - clicked).total_seconds() if last else None
