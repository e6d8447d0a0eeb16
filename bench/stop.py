"""How fast Pause takes effect: the time from the pause's commit until the send loop has stopped.

``python -m bench.stop [--rates "3/s,30/min,"] [--repeat 5] [-n 400] [--database URL]`` plans a
run of the benchmark broadcast to ``n`` customers for each rate (empty: no limit) and each
repeat, sends it with the real ``Sender`` (``DELIVERY_BATCH_SIZE``, 200 by default) on a thread
to a local sink (Postfix's smtp-sink, else aiosmtpd), pauses the run from the main thread (one
transaction, as the page does) a random moment 1–2 s in (no limit: 0–0.1 s after the first
batch was recorded), and measures
``stopped_s`` (the commit until ``Sender.run`` returned, its unsent rows given back) and
``sent_after`` (messages whose ``sent_at`` is after the commit: accepted by the server after
the pause). Writes bench/results.json ``stop`` / ``--label``. Run it on the code before and after
a change (a checkout of the old code, same script) to compare; before, a pause waited for the
claimed batch of 100.
"""
import argparse
import json
import os
import random
import statistics
import threading
import time
from pathlib import Path

import redis
from sqlalchemy import func, select

from app.core.extensions import db
from app.core.utils import utcnow

from .permessage import make_app, planned_run
from .sink import start_sink

HERE = Path(__file__).resolve().parent


def one_pause(app, customers: int, rng, limited: bool) -> dict:
    """Send a fresh run and pause it: 1–2 s in with a rate limit, else 0–0.1 s after its first
    batch was recorded (a run without a limit is over in a few seconds); the pause's figures."""
    from app.delivery import progress
    from app.delivery.chunks import Lease
    from app.delivery.models import Delivery
    from app.delivery.sending import Sender
    from app.delivery.services import pause_run

    run_id = planned_run(customers).id
    db.session.commit()
    returned = []

    def send():
        with app.app_context(), Lease() as lease:
            sender = Sender(run_id, lease.token)
            try:
                sender.run([Delivery.status == "queued"])
            finally:
                sender.close()
                returned.append(time.perf_counter())
    thread = threading.Thread(target=send)
    thread.start()
    if limited:
        time.sleep(1 + rng.random())
    else:
        while not progress.status_counts(run_id)["sent"]:
            db.session.rollback()
            time.sleep(0.005)
        time.sleep(rng.random() / 10)
    pause_run(run_id, "bench")
    db.session.commit()
    paused, paused_at = time.perf_counter(), utcnow()
    thread.join()
    after = db.session.scalar(select(func.count()).select_from(Delivery)
                              .where(Delivery.run_id == run_id, Delivery.sent_at > paused_at))
    return {"stopped_s": round(returned[0] - paused, 3), "sent_after": after}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="customers of each run")
    parser.add_argument("--rates", default="3/s,30/min,", help="comma-separated; empty: no limit")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database", default=os.environ.get("PERMESSAGE_DATABASE_URL")
                        or "postgresql://postgres@127.0.0.1:5432/herald_bench")
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/9")
    parser.add_argument("--label", default="after", help="key under stop in results.json")
    parser.add_argument("--results", default=str(HERE / "results.json"))
    args = parser.parse_args()
    from app.core.settings.services import set_option

    sink, rng, figures = start_sink(), random.Random(13), {}
    try:
        app = make_app(args.database, args.redis, sink.url)
        with app.app_context():
            for rate in args.rates.split(","):
                set_option("delivery.rate_per_second", rate)
                db.session.commit()
                pauses = []
                for _ in range(args.repeat):
                    redis.Redis.from_url(args.redis).flushdb()  # a fresh rate schedule each time
                    pauses.append(one_pause(app, args.n, rng, bool(rate)))
                    print(rate or "no limit", pauses[-1], flush=True)
                stopped = [p["stopped_s"] for p in pauses]
                figures[rate or "no limit"] = {
                    "stopped_s_median": round(statistics.median(stopped), 3), "stopped_s_max": max(stopped),
                    "sent_after_max": max(p["sent_after"] for p in pauses), "pauses": pauses}
            set_option("delivery.rate_per_second", "")
            db.session.commit()
    finally:
        sink.stop()
    figures.update(sink=sink.kind, measured=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                   load_average=list(os.getloadavg()))
    print(json.dumps({k: v for k, v in figures.items()}, indent=2, default=str))
    path = Path(args.results)
    results = json.loads(path.read_text()) if path.exists() else {}
    results.setdefault("stop", {}).setdefault(args.label, {}).update(figures)
    path.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
