"""The run page and ``flask delivery status`` of a 1,000,000-recipient run on PostgreSQL.

``python -m bench.runpage [--database URL] [--recipients N] [--repeat N] [--label NAME]`` builds
(once, kept for later runs) a broadcast run whose ledger is bulk-inserted with one SQL statement
(no real sends): 90 % of the rows processed over 24 hours (sent, with some failed, unknown,
skipped by a later suppression), the rest queued, a few exclusions and duplicates. It then times,
in this process, the run page (GET with an administrator's session, rendered), the progress JSON
the page polls, and ``flask delivery status`` (median and maximum of ``--repeat`` after one
warm-up), and writes them to bench/results.json under ``run_page`` / ``--label``. Run it on the
code before and after a change (a checkout of the old code, same script) to compare.
``--insert-cost N`` also times N inserts of the whole ledger (as planning writes it) with the
live counters' trigger and without (rolled back; needs migration 0015).
"""
import argparse
import json
import statistics
import time
from pathlib import Path

from sqlalchemy import select, text

from app.broadcasts.models import Broadcast, BroadcastRun
from app.core.extensions import db
from app.core.utils import utcnow

from .run import ensure_pg_database, log, make_app

HERE = Path(__file__).resolve().parent
SUBJECT = "bench run page"
LEDGER = """
INSERT INTO deliveries (run_id, customer_id, email, status, reason, attempts, code, reply, message_id,
                        last_attempt_at, sent_at)
SELECT :run, g, 'recipient' || lpad(g::text, 8, '0') || '@example.com', s.status,
       CASE WHEN s.status = 'skipped' THEN s.reason END, CASE WHEN s.status = 'queued' THEN 0 ELSE 1 END,
       CASE s.status WHEN 'sent' THEN 250 WHEN 'failed' THEN 550 END,
       CASE s.status WHEN 'sent' THEN '250 2.0.0 Ok: queued' WHEN 'failed' THEN '550 5.1.1 No such user' END,
       CASE WHEN s.status IN ('sent', 'failed', 'unknown') THEN 'bench.' || g || '@herald.test' END,
       CASE WHEN s.status <> 'queued' THEN s.at END, CASE WHEN s.status = 'sent' THEN s.at END
FROM generate_series(1, :n) AS g
CROSS JOIN LATERAL (SELECT
    CASE WHEN g % 500 = 0 THEN 'skipped' WHEN g > :n * 0.9 THEN 'queued' WHEN g % 100 = 1 THEN 'failed'
         WHEN g % 1000 = 7 THEN 'unknown' WHEN g % 2000 = 3 THEN 'skipped' ELSE 'sent' END AS status,
    CASE WHEN g % 500 = 0 THEN (ARRAY['unsubscribed', 'bounced', 'complained'])[g % 3 + 1]
         ELSE 'complained' END AS reason,
    CAST(:start AS timestamp) + make_interval(secs => g * 86400.0 / :n) AS at) AS s
"""


def ensure_run(recipients: int) -> int:
    """The benchmark run with ``recipients`` ledger rows (built once)."""
    found = db.session.scalar(select(BroadcastRun.id).join(Broadcast)
                              .where(Broadcast.subject == f"{SUBJECT} {recipients}"))
    if found is not None:
        return found
    broadcast = Broadcast(kind="email", subject=f"{SUBJECT} {recipients}", body_html="<p>bench</p>",
                          status="sending")
    db.session.add(broadcast)
    started = utcnow()
    run = BroadcastRun(broadcast=broadcast, occurrence_at=started, status="sending", started_at=started)
    db.session.add(run)
    db.session.flush()
    log(f"inserting {recipients:,} ledger rows for run {run.id}")
    clock = time.perf_counter()
    db.session.execute(text(LEDGER), {"run": run.id, "n": recipients, "start": started})
    db.session.execute(text("INSERT INTO delivery_duplicates (run_id, customer_id, email) "
                            "SELECT :run, :n + g, 'recipient' || lpad(g::text, 8, '0') || '@example.com' "
                            "FROM generate_series(1, :n / 1000) AS g"), {"run": run.id, "n": recipients})
    skipped = recipients // 500
    run.total, run.excluded = recipients - skipped, skipped + recipients // 1000
    db.session.commit()
    log(f"ledger inserted in {time.perf_counter() - clock:.1f} s")
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE deliveries"))
    return run.id


def insert_cost(recipients: int, repeat: int) -> dict:
    """Seconds to insert the ledger (one INSERT ... SELECT, as planning does) with the counters'
    insert trigger and without it (disabled inside the transaction), each rolled back."""
    run_id = db.session.scalar(select(BroadcastRun.id).order_by(BroadcastRun.id.desc()).limit(1))
    seconds = {"with_trigger": [], "without_trigger": []}
    for _ in range(repeat):
        for name in seconds:
            if name == "without_trigger":
                db.session.execute(text("ALTER TABLE deliveries DISABLE TRIGGER deliveries_counts_insert"))
            started = time.perf_counter()
            db.session.execute(text(LEDGER), {"run": run_id + 1_000_000, "n": recipients, "start": utcnow()})
            seconds[name].append(time.perf_counter() - started)
            db.session.rollback()
    return {name: round(statistics.median(values), 2) for name, values in seconds.items()}


def _timed(action, repeat: int) -> dict:
    action()  # warm-up: templates compiled, connections open
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1),
            "repeat": repeat}


def measure(app, run_id: int, repeat: int) -> dict:
    """Median and maximum milliseconds of the run page, its progress JSON and the CLI status."""
    from app.testing import login, make_user

    with app.app_context():
        run = db.session.get(BroadcastRun, run_id)
        broadcast_id = run.broadcast_id
        admin = make_user(f"runpage{time.time_ns()}@herald.test", super_admin=True)
        client = login(app.test_client(), admin)
    page_url = f"/network/broadcasts/{broadcast_id}/runs/{run_id}"
    runner = app.test_cli_runner()

    def page():
        response = client.get(page_url)
        assert response.status_code == 200, response.status_code

    def progress_json():
        response = client.get(f"/network/api/v1/delivery/runs/{run_id}")
        assert response.status_code == 200, response.status_code

    def status():
        result = runner.invoke(args=["delivery", "status", str(run_id)])
        assert result.exit_code == 0, result.output

    figures = {"page": _timed(page, repeat), "progress_json": _timed(progress_json, repeat),
               "cli_status": _timed(status, repeat)}
    figures["cli_output"] = runner.invoke(args=["delivery", "status", str(run_id)]).output.splitlines()[:3]
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/herald_runpage")
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--label", default="after", help="key under run_page in results.json")
    parser.add_argument("--results", default=str(HERE / "results.json"))
    parser.add_argument("--insert-cost", type=int, default=0, metavar="N",
                        help="also time N ledger inserts with and without the counters' trigger")
    args = parser.parse_args()
    ensure_pg_database(args.database)
    app = make_app(args.database)
    with app.app_context():
        run_id = ensure_run(args.recipients)
    figures = measure(app, run_id, args.repeat)
    if args.insert_cost:
        with app.app_context():
            figures["ledger_insert_seconds"] = insert_cost(args.recipients, args.insert_cost)
    figures.update(recipients=args.recipients, measured=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                   load_average=list(__import__("os").getloadavg()))
    print(json.dumps(figures, indent=2))
    path = Path(args.results)
    results = json.loads(path.read_text()) if path.exists() else {}
    results.setdefault("run_page", {})[args.label] = figures
    path.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
