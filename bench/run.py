"""`make bench`: seed, send, measure, print a table and write bench/results.json.

Measures, in one run: end-to-end e-mail throughput with 1 and 2 RQ workers against a local SMTP
sink, the baselines against the same sink (a bare pipelined Python loop in 1 and 2 processes,
Postfix's smtp-source with 2 sessions), the worker's and PostgreSQL's CPU per message, planning
1,000,000 recipients on PostgreSQL and SQLite, the customer dashboard's latency over HTTP, the
wizard's audience count, and worker peak memory. See bench/README.md.
"""
import argparse
import json
import os
import platform
import time
from pathlib import Path

import redis

from app import create_app
from app.core.extensions import db

from .baseline import pipelined_rate, smtp_source_rate
from .floor import floor_send
from .permessage import per_message
from .latency import count_latency, dashboard_latency, ensure_live_notices, ensure_login
from .planning import planning_time
from .seed import bench_product, ensure_customers, vacuum_ledger
from .sink import start_sink
from .throughput import make_email_broadcast, send_and_wait
from .workers import worker_env

HERE = Path(__file__).resolve().parent
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/herald_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
PREFIX = "herald-bench"


def make_app(database_url: str, revision: str = "heads"):
    """A Herald app on a benchmark database, migrated (to ``revision``)."""
    from flask_migrate import upgrade

    instance = HERE / "work"
    instance.mkdir(exist_ok=True)
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": REDIS_URL,
                      "HERALD_PREFIX": PREFIX, "SECRET_KEY": "bench-secret",
                      "INSTANCE_PATH": str(instance), "BASE_URL": "http://bench.herald.test"})
    with app.app_context():
        upgrade(revision=revision)
    return app


def ensure_pg_database(url: str = PG_URL):
    """Create the PostgreSQL benchmark database (``url``) when it does not exist."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def bench_postgres(args, results):
    ensure_pg_database()
    app = make_app(PG_URL)
    env = worker_env(PG_URL, REDIS_URL, "", PREFIX, str(HERE / "work"))
    with app.app_context():
        log(f"seeding PostgreSQL to {args.customers:,} customers")
        ensure_customers(args.customers)
        send_product = bench_product(f"bench-{args.send}", args.send)
        if not args.send_only:
            log("planning time (PostgreSQL)")
            vacuum_ledger()
            results["planning_postgres"] = planning_time(bench_product(f"bench-{args.customers}", args.customers))
            log("audience count latency")
            results["audience_count"] = count_latency(bench_product(f"bench-{args.count}", args.count))
            log(f"publishing {args.notices} live notices; dashboard latency over HTTP")
            ensure_live_notices(args.notices)
            results["dashboard"] = dashboard_latency(env, ensure_login(1), args.requests)
        sink = start_sink()
        results["sink"] = sink.kind
        env["SMTP_URL"] = app.config["SMTP_URL"] = sink.url
        try:
            bench_sending(args, results, send_product, env, sink)
            if args.large_send:
                redis.Redis.from_url(REDIS_URL).flushdb()
                vacuum_ledger()
                log(f"sending {args.customers:,} messages with 2 workers (memory)")
                broadcast = make_email_broadcast(bench_product(f"bench-{args.customers}", args.customers))
                results["send_large_2_workers"] = send_and_wait(broadcast, 2, env, timeout=7200)
        finally:
            sink.stop()


def bench_sending(args, results, send_product, env, sink):
    """Herald's sends and the baselines on one sink, interleaved: ``args.rounds`` rounds of 1
    worker, the loop in 1 process, 2 workers, the loop and the floor (``bench.floor``) in 2
    processes, smtp-source (as many messages each), so a slower stretch of the machine hits both
    sides of a ratio. The round with the median ratio of 2 workers to the loop in 2 processes is
    kept (``rounds`` lists every round); then the CPU per message (bench.permessage)."""
    payload = sample_message(send_product)
    results["message_bytes"] = len(payload)
    rounds = []
    for number in range(1, args.rounds + 1):
        figures = {}
        for workers in (1, 2):
            redis.Redis.from_url(REDIS_URL).flushdb()
            vacuum_ledger()
            log(f"round {number}: sending {args.send:,} messages with {workers} worker(s)")
            figures[f"send_{workers}_workers"] = sent = send_and_wait(make_email_broadcast(send_product),
                                                                      workers, env)
            total = sent["sent"] or args.send
            log(f"round {number}: bare pipelined loop, {workers} process(es), {total:,} messages")
            figures[f"baseline_pipelined_{workers}_processes"] = pipelined_rate(sink.port, total, payload, workers)
        log(f"round {number}: the floor, 2 processes, {total:,} messages")
        figures["floor_2_processes"] = floor_send(total, sink.url)
        log(f"round {number}: Postfix smtp-source, 2 sessions, {total:,} messages")
        if (source := smtp_source_rate(sink.port, total, payload, 2)) is not None:
            figures["smtp_source_2_sessions"] = source
        figures["ratios"] = ratios(figures)
        rounds.append(figures)
    results.update(median_round(rounds))
    results["rounds_figures"] = rounds  # every round's figures, for ``warnings``; not written
    results["rounds"] = [{**{key: value["messages_per_second"] for key, value in figures.items()
                             if isinstance(value, dict) and "messages_per_second" in value},
                          "ratios": figures["ratios"]} for figures in rounds]
    log(f"CPU per message (bench.permessage, {args.permessage:,} customers)")
    vacuum_ledger()
    figures = per_message(args.permessage, sink)
    results["permessage"] = figures
    results["worker_cpu_us_per_message"] = figures["send_loop_us"]
    results["database_cpu_us_per_message"] = figures["database_us"]
    results["redis_cpu_us_per_message"] = figures.get("redis_us")


def median_round(rounds: list) -> dict:
    """The round whose ratio of 2 workers to the loop in 2 processes is the median (the lower
    middle one for an even count)."""
    key = "send_2_workers / baseline_pipelined_2_processes"
    ordered = sorted(rounds, key=lambda figures: figures["ratios"].get(key, 0))
    return ordered[(len(ordered) - 1) // 2]


def ratios(results) -> dict:
    """Herald's send rates divided by each baseline's."""
    rate = {key: value["messages_per_second"] for key, value in results.items()
            if isinstance(value, dict) and "messages_per_second" in value}
    pairs = {"send_1_workers / baseline_pipelined_1_processes": ("send_1_workers", "baseline_pipelined_1_processes"),
             "send_2_workers / baseline_pipelined_2_processes": ("send_2_workers", "baseline_pipelined_2_processes"),
             "send_2_workers / smtp_source_2_sessions": ("send_2_workers", "smtp_source_2_sessions"),
             "floor_2_processes / baseline_pipelined_2_processes": ("floor_2_processes", "baseline_pipelined_2_processes"),
             "send_2_workers / floor_2_processes": ("send_2_workers", "floor_2_processes")}
    return {name: round(rate[a] / rate[b], 2) for name, (a, b) in pairs.items() if a in rate and rate.get(b)}


def sample_message(product) -> bytes:
    """One rendered message of the benchmark broadcast (for the bare-loop baseline)."""
    from app.broadcasts.models import BroadcastRun
    from app.broadcasts.mail import BroadcastMessages
    from app.mail.builder import Recipient
    from app.core.utils import utcnow

    broadcast = make_email_broadcast(product)
    run = BroadcastRun(broadcast=broadcast, occurrence_at=utcnow(), status="sent")
    db.session.add(run)
    db.session.flush()
    _, _, payload = BroadcastMessages(broadcast, run.id).build(
        Recipient(1, "customer1@example.com", 1, "Ada de Vries", "https://site1.example.net"))
    db.session.rollback()
    return payload


def bench_sqlite(args, results):
    url = f"sqlite:///{HERE / 'work' / 'bench.db'}"
    app = make_app(url)
    with app.app_context():
        log(f"seeding SQLite to {args.customers:,} customers")
        ensure_customers(args.customers)
        log("planning time (SQLite)")
        results["planning_sqlite"] = planning_time(bench_product(f"bench-{args.customers}", args.customers))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--send", type=int, default=100_000, help="recipients of the throughput sends")
    parser.add_argument("--count", type=int, default=500_000, help="members of the counted product")
    parser.add_argument("--notices", type=int, default=500)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--large-send", action="store_true", help="also send to all customers (RSS)")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--permessage", type=int, default=5_000, help="customers of the CPU-per-message run")
    parser.add_argument("--send-only", action="store_true",
                        help="only the sends, their baselines and the CPU per message (no planning, count, dashboard)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds of the sends and their baselines (the median round is kept)")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the bench runs")
    args = parser.parse_args()
    if args.quick:
        args.customers, args.send, args.count, args.notices, args.requests = 20_000, 5_000, 10_000, 50, 100
        args.permessage, args.rounds = 2_000, 1
    if args.send_only and not args.large_send:
        args.customers = max(args.send, args.permessage)
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "platform": platform.platform(), "load_average_at_start": os.getloadavg()},
               "args": vars(args), "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    bench_postgres(args, results)
    if not (args.no_sqlite or args.send_only):
        bench_sqlite(args, results)
    results["machine"]["load_average_at_end"] = os.getloadavg()  # other work shares the cores too
    results["warnings"] = warnings(results)
    summarise(results)
    path = HERE / ("results-quick.json" if args.quick else "results.json")
    if path.exists():  # the benchmarks run on their own (bench.scale, .reach, .runpage, .stop) stay
        kept = json.loads(path.read_text())
        results.update({key: value for key, value in kept.items()
                        if key.startswith(("scale", "reach")) or key in ("run_page", "stop")})
    results.pop("rounds_figures", None)
    path.write_text(json.dumps(results, indent=2))


def summarise(results):
    """Print the results table with the targets (rows of parts that did not run are left out)."""
    get = results.get
    one, two = results["send_1_workers"], results["send_2_workers"]
    rate = {key: get(key, {}).get("messages_per_second", "-") for key in (
        "baseline_pipelined_1_processes", "baseline_pipelined_2_processes", "smtp_source_2_sessions")}
    ratio = get("ratios", {})
    rows = [
        ("Send, 1 worker (msg/s)", one["messages_per_second"], ""),
        ("Send, 2 workers (msg/s)", two["messages_per_second"], ">= 1500"),
        ("Bare pipelined loop, 1 / 2 processes (msg/s)",
         f"{rate['baseline_pipelined_1_processes']} / {rate['baseline_pipelined_2_processes']}", ""),
        ("smtp-source, 2 sessions (msg/s)", rate["smtp_source_2_sessions"], ""),
        ("2 workers / pipelined loop, 2 processes",
         ratio.get("send_2_workers / baseline_pipelined_2_processes", "-"), ">= 0.5"),
        ("  the same, each round", " ".join(str(r["ratios"].get("send_2_workers / baseline_pipelined_2_processes", "-"))
                                            for r in get("rounds", [])), ""),
        ("Machine CPU per message, 2 workers (µs)", _split(two), ""),
        ("Machine CPU per message, loop in 2 processes (µs)", _split(get("baseline_pipelined_2_processes", {})), ""),
        ("1 worker / pipelined loop, 1 process", ratio.get("send_1_workers / baseline_pipelined_1_processes", "-"), ""),
        ("2 workers / smtp-source, 2 sessions", ratio.get("send_2_workers / smtp_source_2_sessions", "-"), ""),
        ("Floor in 2 processes / loop", ratio.get("floor_2_processes / baseline_pipelined_2_processes", "-"), ""),
        ("1 to 2 workers speed-up", round(two["messages_per_second"] / max(one["messages_per_second"], 1), 2), ""),
        ("Worker CPU per message (µs)", get("worker_cpu_us_per_message", "-"), "<= 120"),
        ("PostgreSQL CPU per message (µs)", get("database_cpu_us_per_message", "-"), "<= 20"),
        ("Redis server CPU per message (µs)", get("redis_cpu_us_per_message", "-"), ""),
        ("Worker peak RSS, send (MB)", max(one["worker_peak_rss_mb"], two["worker_peak_rss_mb"]), "< 200"),
    ]
    if "planning_postgres" in results:
        rows += [
            ("Planning, PostgreSQL (s)", results["planning_postgres"]["seconds"], "< 10"),
            ("Planning, SQLite (s)", get("planning_sqlite", {}).get("seconds", "-"), ""),
            ("Dashboard p50 / p95 (ms)", f"{results['dashboard']['p50_ms']} / {results['dashboard']['p95_ms']}", "p95 < 15"),
            ("Audience count (ms)", results["audience_count"]["median_ms"], "< 300"),
        ]
    if "send_large_2_workers" in results:
        rows.append(("Worker peak RSS, large send (MB)", results["send_large_2_workers"]["worker_peak_rss_mb"], "< 200"))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measure'.ljust(width)}  {'result':>14}  target")
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {str(value):>14}  {target}")
    for warning in results.get("warnings", []):
        print(f"warning: {warning}")


def warnings(results) -> list[str]:
    """What makes this run's sending figures doubtful: other work on the machine during a send or
    a baseline (its ``other`` CPU over a tenth of the total), or the loop in 2 processes slower
    than in 1 (the cores were saturated, so the ratio's denominator is low), in any round."""
    found = []
    for number, figures in enumerate(results.get("rounds_figures", []), 1):
        for key, value in figures.items():
            cpu = value.get("cpu_us_per_message") if isinstance(value, dict) else None
            if cpu and cpu["total"] and cpu["other"] > cpu["total"] / 10:
                found.append(f"round {number}, {key}: other processes took {cpu['other']} of {cpu['total']} "
                             "µs a message: the machine was not otherwise idle")
        one, two = (figures.get(f"baseline_pipelined_{n}_processes", {}).get("messages_per_second")
                    for n in (1, 2))
        if one and two and two < one:
            found.append(f"round {number}: the loop in 2 processes ({two}) was slower than in 1 ({one}): "
                         "the cores were saturated")
    return found


def _split(figures: dict) -> str:
    """A send's ``cpu_us_per_message``: the machine's, then by kind of process (``bench.cpushare``)."""
    cpu = figures.get("cpu_us_per_message")
    if not cpu:
        return "-"
    parts = ", ".join(f"{kind} {cpu[kind]}" for kind in ("clients", "postgresql", "redis", "sink", "bench", "other")
                      if cpu.get(kind, 0) >= 0.5)
    return f"{cpu['total']}: {parts}; softirq {cpu['softirq']} of it; {cpu['cores_busy']} cores busy"


if __name__ == "__main__":
    main()
