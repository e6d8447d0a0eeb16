"""What one customer costs to create, change and delete, in statements of 1 and of 1,000 rows.

Every statement fires the address, suppression and sharer triggers (migration 0016); measured
in the session's connection, so a run that measures at 10,000 customers, seeds to 1,000,000 and
measures again shows whether the triggers' cached plans kept their cost flat.
"""
import os
import statistics
import time

from sqlalchemy import delete, func, insert, select, text, update

from app.core.extensions import db
from app.network.cli import insert_rows
from app.network.models import Customer
from app.mail.suppression import Suppression
from app.core.utils import utcnow

PREFIX = "bench-write-"


def backend_pid():
    """The PostgreSQL backend of the session's connection (None on SQLite)."""
    if db.engine.dialect.name != "postgresql":
        return None
    return db.session.scalar(text("SELECT pg_backend_pid()"))


def _rows(start: int, count: int, reuse_from: int, suppressed: list[str]) -> list[dict]:
    """New customers: one in 50 reuses an existing customer's address (shared), one in 20 an
    address on the suppression list when there is one, the others a new address."""
    now, rows = utcnow(), []
    for n in range(start, start + count):
        if n % 50 == 0:
            email = f"customer{reuse_from + n % 997}@example.com"
        elif n % 20 == 0 and suppressed:
            email = suppressed[n % len(suppressed)]
        else:
            email = f"{PREFIX}{n}@example.com"
        rows.append({"email": email, "name": f"Writer {n}", "locale": "en", "timezone": "UTC",
                     "created_at": now})
    return rows


def backend_cpu(pid) -> float:
    """CPU seconds used so far by the PostgreSQL backend ``pid`` when it runs on this machine
    (wall times on a busy shared machine mostly measure the wait for a core), else 0."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _phase(result: dict, name: str, rows: int, pid, work) -> None:
    """Run ``work`` and record ``rows`` per second of it and the backend's CPU per row (µs)."""
    started, used = time.perf_counter(), backend_cpu(pid)
    work()
    seconds = time.perf_counter() - started
    result[f"{name}_per_s"] = round(rows / seconds, 1)
    if pid is not None:
        result[f"{name}_cpu_us"] = round((backend_cpu(pid) - used) * 1e6 / rows)


def _writes_once(pid, singles: int, batches: int, size: int) -> dict:
    reuse_from = db.session.scalar(select(func.min(Customer.id))) or 1
    suppressed = db.session.scalars(select(Suppression.email).limit(64)).all()
    result = {}

    def insert_singles():
        for n in range(singles):
            db.session.execute(insert(Customer).values(_rows(n, 1, reuse_from, suppressed)[0]))
            db.session.commit()

    def insert_batches():
        for b in range(batches):
            insert_rows(Customer, _rows(singles + b * size, size, reuse_from, suppressed))
            db.session.commit()

    def move(ids):
        for n, customer_id in enumerate(ids):
            db.session.execute(update(Customer).where(Customer.id == customer_id)
                               .values(email=f"{PREFIX}moved-{n}@example.com"))
            db.session.commit()

    def remove(ids):
        for start in range(0, len(ids), size):
            db.session.execute(delete(Customer).where(Customer.id.in_(ids[start:start + size])))
            db.session.commit()

    writers = select(Customer.id).where(Customer.name.like("Writer %")).order_by(Customer.id)
    _phase(result, "insert_1", singles, pid, insert_singles)
    _phase(result, f"insert_{size}", batches * size, pid, insert_batches)
    ids = db.session.scalars(writers.limit(singles)).all()
    _phase(result, "update_email_1", len(ids), pid, lambda: move(ids))
    ids = db.session.scalars(writers).all()
    _phase(result, f"delete_{size}", len(ids), pid, lambda: remove(ids))
    return result


def write_rates(singles: int = 200, batches: int = 5, size: int = 1000, repeats: int = 3) -> dict:
    """Customers per second, and the database backend's CPU per customer (µs), each the median
    of ``repeats`` rounds: inserted ``singles`` times one per statement (each committed, as a
    registration is) and ``batches`` times ``size`` per statement (``flask seed-demo``'s
    insert); then the same customers' addresses changed one per statement, and all of them
    deleted ``size`` per statement, so the network keeps its size. Every statement goes
    through the counter triggers. ``load`` is the machine's load average when done."""
    pid = backend_pid()
    rounds = [_writes_once(pid, singles, batches, size) for _ in range(repeats)]
    result = {"customers": db.session.scalar(select(func.max(Customer.id))) or 0, "backend_pid": pid,
              **{key: statistics.median(r[key] for r in rounds) for key in rounds[0]}}
    if pid is not None:
        result["same_connection"] = backend_pid() == pid
    result["load"] = round(os.getloadavg()[0], 1)
    return result
