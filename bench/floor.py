"""The floor of a Python send: Herald's own builder, transport, write-ahead record and ledger write
in a bare loop, without the sending job around them.

``floor_rate`` runs, in ``processes`` forked processes, what issue 13 asks of every message and
nothing else: the message built for its recipient (``BroadcastMessages.build``, personalised,
signed links), handed to the pipelined transport (``SMTPTransport.submit``, one write and one read
a message, as ``bench/baseline.py``'s loop), its outcome written to the job's write-ahead record
in Redis right after the reply (``WriteAheadLog.record``, section 2), and the ledger updated 100
outcomes at a time (``outcomes.record_outcomes`` and a commit: the counters' trigger runs). No RQ,
no claims, no leases, no background transaction, no stop or rate checks, no progress. ``steps``
leaves parts out (a message built before the clock starts stands in for ``build``), so one run
shows what each part costs against the bare loop. The floor writes the ledger in its own thread
and waits for it (Herald's job overlaps that wait), so its rate is not the bound; the bound is
``ceiling_of_the_loop`` (``staircase``): the machine's cores over the CPU per message the steps
take in all processes (the loops, PostgreSQL, Redis, the sink, the kernel's share), against the
loop's rate: no orchestration of the same steps sends faster on the same cores.

Timed as the loop is: from the moment every process is connected (its first message sent before
the clock) to the last outcome written.
"""
import argparse
import json
import multiprocessing
import os
import statistics
import time
import uuid
from pathlib import Path

from sqlalchemy import select

from .baseline import start_all
from .cpushare import CpuMeter

STEPS = ("build", "record", "ledger")
LEDGER_BATCH = 100  # outcomes a ledger write, as a claim of the send loop at full speed


def _outcome(result, now):
    """The ledger outcome of a transport result (accepted, or refused: the sink accepts all)."""
    from app.delivery.outcomes import Outcome

    person, message_id = result.key
    return Outcome(person.delivery_id, person.email, "sent" if result.accepted else "failed",
                   result.code, result.reply[:500], message_id, sent_at=now if result.accepted else None)


def _floor_process(app, smtp_url: str, run_id: int, people: list, steps: tuple, events) -> None:
    """One process: prepare (its database connection opened), send the first message untimed,
    wait for ``go``, send the rest, set ``done``. It exits at ``release``, so that it and its
    database backend are still there when the parent reads the machine's CPU."""
    ready, go, done, release = events
    from app.broadcasts.mail import BroadcastMessages
    from app.broadcasts.models import BroadcastRun
    from app.core.extensions import db
    from app.core.utils import utcnow
    from app.delivery.outcomes import record_outcomes
    from app.delivery.wal import WriteAheadLog
    from app.mail.transport import make_transport

    with app.app_context():
        db.engine.dispose(close=False)  # the parent's connections stay the parent's
        factory = BroadcastMessages(db.session.get(BroadcastRun, run_id).broadcast, run_id)
        prebuilt = None if "build" in steps else [factory.build(person) for person in people]
        transport = make_transport(smtp_url)
        wal = WriteAheadLog(uuid.uuid4().hex) if "record" in steps else None
        pending = []
        db.session.execute(select(1))  # the backend exists before the clock

        def settle(results):
            now = utcnow()
            outcomes = [_outcome(result, now) for result in results]
            if wal is not None and outcomes:
                wal.record(outcomes)
            if "ledger" in steps:
                pending.extend(outcomes)
                if len(pending) >= LEDGER_BATCH:
                    record_outcomes(pending, now)
                    db.session.commit()
                    pending.clear()

        for index, person in enumerate(people):
            if index == 1:  # connected, the first message out: the clock starts
                ready.set()
                go.wait()
            message_id, sender, data = prebuilt[index] if prebuilt else factory.build(person)
            settle(transport.submit((person, message_id), data, sender, person.email))
        settle(transport.flush())
        if pending:
            record_outcomes(pending, utcnow())
            db.session.commit()
        if wal is not None:
            wal.close(drop=True)
        done.set()
        release.wait()
        transport.close()


def floor_rate(app, smtp_url: str, run_id: int, people: list, processes: int = 2,
               steps: tuple = STEPS) -> dict:
    """``processes`` floor loops to ``smtp_url`` sharing ``people`` (``Recipient``s of run ``run_id``'s ledger
    rows, as ``bench.permessage.recipients`` reads them); messages/s and the machine's CPU per
    message (``bench.cpushare``: PostgreSQL and Redis by kind, the loops as clients)."""
    context = multiprocessing.get_context("fork")
    share = len(people) // processes
    go, release = context.Event(), context.Event()
    readies, dones = ([context.Event() for _ in range(processes)] for _ in range(2))
    workers = [context.Process(target=_floor_process, args=(
        app, smtp_url, run_id, people[i * share:(i + 1) * share], tuple(steps),
        (readies[i], go, dones[i], release))) for i in range(processes)]
    start_all(workers, readies)
    meter = CpuMeter(lambda: [worker.pid for worker in workers]).start()
    started = time.perf_counter()
    go.set()
    for done, worker in zip(dones, workers):
        while not done.wait(0.1):
            if not worker.is_alive():
                raise RuntimeError("a floor process failed")
    seconds = time.perf_counter() - started
    sent = (share - 1) * processes  # each process's first message went before the clock
    cpu = meter.stop(sent, seconds)
    release.set()
    for worker in workers:
        worker.join()
    return {"processes": processes, "steps": list(steps), "messages": sent, "seconds": round(seconds, 3),
            "messages_per_second": round(sent / seconds, 1), "cpu_us_per_message": cpu}


def floor_send(count: int, smtp_url: str, processes: int = 2) -> dict:
    """The floor with every step over a freshly planned run of ``count`` recipients, in the
    current app (``bench.run``'s rounds: beside Herald's send and the loop)."""
    from flask import current_app

    from .permessage import planned_run, recipients

    run = planned_run(count)
    return floor_rate(current_app._get_current_object(), smtp_url, run.id, recipients(run.id), processes)


def staircase(app, sink, count: int, processes: int = 2) -> dict:
    """The bare loop, then the floor with each step added in turn, ``count`` messages each, one
    freshly planned run each (an outcome rewritten over the same one moves no counter); each
    figure's ``of_the_loop`` is its rate over the loop's in the same round."""
    from .baseline import pipelined_rate
    from .permessage import planned_run, recipients
    from .run import sample_message
    from .seed import bench_product

    run = planned_run(count)  # seeds the customers and the product the first time
    payload = sample_message(bench_product(f"bench-{count}", count))
    figures = {f"baseline_pipelined_{processes}_processes": pipelined_rate(sink.port, count, payload, processes)}
    for last in range(len(STEPS) + 1):
        run = planned_run(count)
        figures["floor_" + ("_".join(STEPS[:last]) or "transport")] = floor_rate(
            app, sink.url, run.id, recipients(run.id), processes, STEPS[:last])
    loop = figures[f"baseline_pipelined_{processes}_processes"]["messages_per_second"]
    for name, value in figures.items():
        value["of_the_loop"] = round(value["messages_per_second"] / loop, 2)
        cpu = value["cpu_us_per_message"]
        # The most this work could send with every core busy: the cores over the machine's CPU
        # per message for it (other processes' share left out).
        value["ceiling_of_the_loop"] = round(os.cpu_count() / ((cpu["total"] - cpu["other"]) * 1e-6) / loop, 2)
        print(f"{name:34} {value['messages_per_second']:7,.0f}/s {value['of_the_loop']:5.2f} of the loop, "
              f"at most {value['ceiling_of_the_loop']:4.2f}; CPU {cpu['total']} µs (clients {cpu['clients']}, "
              f"postgresql {cpu['postgresql']}, redis {cpu['redis']}, sink {cpu['sink']}, other {cpu['other']}; "
              f"{cpu['cores_busy']} cores)")
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20000, help="messages a measurement")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="staircases, one after another")
    parser.add_argument("--write", action="store_true", help="keep the rounds in bench/results.json (\"floor\")")
    parser.add_argument("--database", default=os.environ.get("PERMESSAGE_DATABASE_URL")
                        or "postgresql://postgres@127.0.0.1:5432/herald_bench")
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/9")
    args = parser.parse_args()

    from .permessage import make_app
    from .sink import start_sink

    sink, started = start_sink(), time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    try:
        app = make_app(args.database, args.redis, sink.url)
        with app.app_context():
            rounds = [staircase(app, sink, args.n, args.processes) for _ in range(args.rounds)]
    finally:
        sink.stop()
    medians = {name: {key: statistics.median(r[name][key] for r in rounds) for key in ("of_the_loop", "ceiling_of_the_loop")}
               for name in rounds[0]}
    print("medians (of the loop, at most): " + ", ".join(f"{name} {value['of_the_loop']}, {value['ceiling_of_the_loop']}"
                                                        for name, value in medians.items()))
    if args.write:
        path = Path(__file__).with_name("results.json")
        results = json.loads(path.read_text())
        results["floor"] = {"started": started, "sink": sink.kind, "messages": args.n,
                            "processes": args.processes, "medians": medians, "rounds": rounds}
        path.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
