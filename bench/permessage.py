"""CPU per message of the send loop: building the bytes, SMTP, and the whole loop with the ledger.

``python -m bench.permessage [-n 2000] [--send] [--profile build|send] [--database URL]`` seeds a
small network (SQLite in bench/work by default), plans a run of the benchmark broadcast, then:

- **build**: ``BroadcastMessages.build`` for every ledger row of the run (the bytes, nothing sent);
- **smtp** (``--send``): those bytes sent over one transport to a sink (Postfix's smtp-sink, else
  aiosmtpd), no database;
- **send** (``--send``): the real ``Sender`` (claims, build, SMTP, outcome writes, Redis progress)
  over the same rows, with the CPU inside ``build`` and the transport's ``submit`` and ``flush``
  counted apart.

CPU is this process's (``time.process_time``); with PostgreSQL on this machine the CPU of the
backend that served the loop is shown too (``/proc``), and with Redis on this machine the CPU of the
whole redis-server process during the send (all its threads, serving every client: other clients'
commands count too); the sink's is not counted.
``--profile`` prints the most expensive functions of one phase (cProfile on CPU time; environment:
``PERMESSAGE_SORT``, default ``tottime``, ``PERMESSAGE_TOP``, default 25). The database is
``--database`` or ``PERMESSAGE_DATABASE_URL``; Redis ``--redis`` or ``BENCH_REDIS_URL``.
"""
import argparse
import cProfile
import os
import pstats
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, select, text

from app import create_app
from app.core.extensions import db

HERE = Path(__file__).resolve().parent


def make_app(database_url: str, redis_url: str, smtp_url: str = ""):
    """A migrated Herald app for the measurement."""
    from flask_migrate import upgrade

    (HERE / "work").mkdir(exist_ok=True)
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": redis_url,
                      "HERALD_PREFIX": "herald-permessage", "SECRET_KEY": "bench-secret",
                      "INSTANCE_PATH": str(HERE / "work"), "BASE_URL": "http://bench.herald.test",
                      "SMTP_URL": smtp_url})
    with app.app_context():
        upgrade(revision="heads")
    return app


def planned_run(count: int):
    """A run of the benchmark broadcast to ``count`` customers, planned and sending."""
    from app.broadcasts.models import BroadcastRun
    from app.delivery.planning import plan
    from app.core.utils import utcnow

    from .seed import bench_product, ensure_customers
    from .throughput import make_email_broadcast

    ensure_customers(count)
    broadcast = make_email_broadcast(bench_product(f"bench-{count}", count))
    run = BroadcastRun(broadcast=broadcast, occurrence_at=utcnow(), status="planning")
    db.session.add(run)
    db.session.flush()
    plan(run)
    run.status = "sending"
    db.session.commit()
    return run


def recipients(run_id: int) -> list:
    """The run's queued rows as the sender would claim them (a site address of the usual size)."""
    from app.delivery.models import Delivery
    from app.mail.builder import Recipient
    from app.network.models import Customer

    rows = db.session.execute(select(Delivery.id, Delivery.email, Delivery.customer_id, Customer.name)
                              .join(Customer, Customer.id == Delivery.customer_id)
                              .where(Delivery.run_id == run_id, Delivery.status == "queued")
                              .order_by(Delivery.id)).all()
    return [Recipient(r.id, r.email, r.customer_id, r.name or "", f"https://site{r.customer_id}.example.net")
            for r in rows]


def smtp_only(built, people) -> None:
    """Send already built messages over one pooled transport (no database, no Redis)."""
    from flask import current_app

    from app.mail.transport import pool

    transport = pool.acquire(current_app.config["SMTP_URL"])
    for (_, envelope_from, data), person in zip(built, people):
        transport.submit(person.delivery_id, data, envelope_from, person.email)
    transport.flush()
    pool.release(current_app.config["SMTP_URL"], transport)


def measure(phase, profile: bool):
    """(CPU seconds, result) of ``phase()``; prints a profile when asked."""
    profiler = cProfile.Profile(time.process_time) if profile else None
    started = time.process_time()
    if profiler:
        profiler.enable()
    result = phase()
    if profiler:
        profiler.disable()
    spent = time.process_time() - started
    if profiler:
        pstats.Stats(profiler).sort_stats(os.environ.get("PERMESSAGE_SORT", "tottime")).print_stats(int(os.environ.get("PERMESSAGE_TOP", "25")))
    return spent, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="customers targeted (about 2 %% share an address)")
    parser.add_argument("--send", action="store_true", help="also send through the real Sender to a sink")
    parser.add_argument("--profile", choices=("build", "send"), help="cProfile one phase")
    parser.add_argument("--database", default=os.environ.get("PERMESSAGE_DATABASE_URL")
                        or f"sqlite:///{HERE / 'work' / 'permessage.db'}")
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/9")
    args = parser.parse_args()

    from .sink import start_sink

    sink = start_sink() if args.send else None
    try:
        app = make_app(args.database, args.redis, sink.url if sink else "")
        with app.app_context():
            run_phases(args, sink)
    finally:
        if sink:
            sink.stop()


def run_phases(args, sink):
    """Build every message, then (``--send``) send them all; print CPU µs per message."""
    per_message(args.n, sink, args.profile)


def per_message(n: int, sink, profile: str | None = None) -> dict:
    """Measure and print the CPU µs per message of a run to ``n`` customers (in the current app,
    whose SMTP_URL must reach ``sink``; build only without a sink) and return the figures."""
    from app.broadcasts.models import BroadcastRun
    from app.delivery.chunks import Lease
    from app.delivery.models import Delivery
    from app.broadcasts.mail import BroadcastMessages
    from app.delivery.sending import Sender
    from app.mail.transport import SMTPTransport

    run = planned_run(n)
    people = recipients(run.id)
    count = max(len(people), 1)
    factory = BroadcastMessages(run.broadcast, run.id)
    build_cpu, built = measure(lambda: [factory.build(p) for p in people], profile == "build")
    size = sum(len(data) for _, _, data in built) / count
    figures = {"messages": len(people), "message_bytes": round(size), "database": db.engine.dialect.name,
               "build_only_us": us(build_cpu, count)}
    print(f"{len(people)} messages of {size:,.0f} bytes; database {db.engine.dialect.name}")
    print(f"build          {figures['build_only_us']:8.1f} µs CPU/message")
    if not sink:
        return figures
    smtp_cpu, _ = measure(lambda: smtp_only(built, people), False)
    figures["smtp_only_us"] = us(smtp_cpu, count)
    print(f"smtp only      {figures['smtp_only_us']:8.1f} µs CPU/message (the built bytes, one transport)")
    run_id = run.id
    db.session.commit()

    def send():
        with Lease() as lease:
            sender = Sender(run_id, lease.token)
            try:
                return sender.run([Delivery.status == "queued"])
            finally:
                sender.close()
    backend, redis_pid = database_backend(), redis_server()
    server_before, redis_before = process_cpu(backend), process_cpu(redis_pid)
    wall, own = time.perf_counter(), time.thread_time()
    with timed(BroadcastMessages, "build") as in_build, timed(SMTPTransport, "submit") as in_submit, \
            timed(SMTPTransport, "flush") as in_smtp:
        send_cpu, reason = measure(send, profile == "send")
    own = time.thread_time() - own  # the job's thread; the rest of send_cpu is the background one
    in_smtp[0] += in_submit[0]
    wall = time.perf_counter() - wall
    server_cpu = process_cpu(backend) - server_before if backend and database_backend() == backend else None
    redis_cpu = process_cpu(redis_pid) - redis_before if redis_pid and redis_server() == redis_pid else None
    sent = db.session.scalar(select(func.count()).where(Delivery.run_id == run_id, Delivery.status == "sent"))
    rest = send_cpu - in_build[0] - in_smtp[0]
    figures.update(sent=sent, send_loop_us=us(send_cpu, count), build_us=us(in_build[0], count),
                   smtp_us=us(in_smtp[0], count), ledger_and_loop_us=us(rest, count),
                   background_us=us(send_cpu - own, count),
                   wall_us=us(wall, count), database_us=us(server_cpu, count) if server_cpu is not None else None,
                   redis_us=us(redis_cpu, count) if redis_cpu is not None else None)
    print(f"send loop      {figures['send_loop_us']:8.1f} µs CPU/message ({sent} sent to {sink.kind}, {reason}; "
          f"{figures['wall_us']:.0f} µs wall)")
    print(f"  of which     {figures['build_us']:8.1f} build, {figures['smtp_us']:.1f} smtp (the job's thread), "
          f"{figures['ledger_and_loop_us']:.1f} claims, outcomes, progress and the loop "
          f"({figures['background_us']:.1f} of it in the background thread)")
    if server_cpu is not None:
        print(f"database       {figures['database_us']:8.1f} µs CPU/message (the PostgreSQL backend)")
    if redis_cpu is not None:
        print(f"redis          {figures['redis_us']:8.1f} µs CPU/message (the whole redis-server process: "
              f"other clients count too)")
    return figures


def us(seconds: float, count: int) -> float:
    """Seconds spent on ``count`` messages as µs per message, rounded."""
    return round(seconds / count * 1e6, 1)


_ACTIVE: list = []  # [spent, started] of the timed calls in progress in this thread, innermost last


@contextmanager
def timed(cls, name: str):
    """Count the CPU seconds this thread spends in ``cls.name`` while the block runs (yields a
    1-item list). Nested timed calls count to the innermost only (the next message is built
    inside the transport's ``submit``), and a background thread's CPU to none of them."""
    spent, original = [0.0], getattr(cls, name)

    def wrapper(*args, **kwargs):
        now = time.thread_time()
        if _ACTIVE:
            _ACTIVE[-1][0][0] += now - _ACTIVE[-1][1]
        _ACTIVE.append([spent, now])
        try:
            return original(*args, **kwargs)
        finally:
            now = time.thread_time()
            spent[0] += now - _ACTIVE.pop()[1]
            if _ACTIVE:
                _ACTIVE[-1][1] = now
    own = name in vars(cls)  # else inherited: removing the wrapper restores it
    setattr(cls, name, wrapper)
    try:
        yield spent
    finally:
        if own:
            setattr(cls, name, original)
        else:
            delattr(cls, name)


def database_backend():
    """The pid of the PostgreSQL backend serving the session (None elsewhere)."""
    if db.engine.dialect.name != "postgresql":
        return None
    pid = db.session.scalar(text("SELECT pg_backend_pid()"))
    db.session.commit()
    return pid


def redis_server():
    """The pid of the redis-server process serving the app's Redis when it runs on this machine
    (``INFO server``'s ``process_id``, checked in ``/proc``: a redis-server holding the socket
    listening on its port), else None (another machine, or another pid namespace)."""
    from app.core.extensions import redis_store

    info = redis_store.client.info("server")
    pid, port = info.get("process_id"), info.get("tcp_port")
    try:
        if not Path(f"/proc/{pid}/comm").read_text().startswith("redis-server"):
            return None
        sockets = {os.readlink(fd.path) for fd in os.scandir(f"/proc/{pid}/fd")}
    except (OSError, TypeError):
        return None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:  # sl local_address rem_address st ... inode: listening is state 0A
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port \
                    and f"socket:[{fields[9]}]" in sockets:
                return pid
    return None


def process_cpu(pid) -> float:
    """CPU seconds (user + system) of process ``pid`` on this machine, all its threads, 0 when
    unknown: the scheduler's nanoseconds on a CPU (``/proc/PID/task/*/schedstat``) where the kernel
    keeps them, else clock ticks (``/proc/PID/stat``: 10 ms, 2 µs a message over 5,000 messages)."""
    try:
        return sum(int(Path(task.path, "schedstat").read_text().split()[0])
                   for task in os.scandir(f"/proc/{pid}/task")) / 1e9
    except (OSError, TypeError, ValueError, IndexError):
        pass
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
