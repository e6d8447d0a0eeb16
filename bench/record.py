"""CPU per message of the send loop's write-ahead record alone (``app/delivery/wal.py``).

``python -m bench.record [-n 5000] [--batch 100] [--passes 5] [--redis URL]`` drives one
``WriteAheadLog`` the way the pipelined send loop does, without SMTP or a database: per batch the
header (``begin``), per message the outcome (a sent one, with a typical reply and message id),
per batch the trim after the ledger commit (``settle``). It prints the CPU µs per message (``time.process_time`` of this process; Redis's own CPU is not counted) of
each pass and the best. Redis: ``--redis`` or ``BENCH_REDIS_URL`` (default database 9); the
record's keys are deleted at the end of each pass.
"""
import argparse
import os
import time


def passes(n: int, batch: int, count: int) -> list[float]:
    """CPU µs per message of ``count`` passes over ``n`` messages (in the current app)."""
    from app.core.utils import utcnow
    from app.delivery.outcomes import Outcome
    from app.delivery.wal import WriteAheadLog

    figures = []
    for number in range(count):
        outcomes = [Outcome(i, "someone@example.com", "sent", 250, "2.0.0 Ok: queued as 4Xyz12ABCD",
                            f"<{i}.b7e3f0@herald.test>", sent_at=utcnow()) for i in range(n)]
        record = WriteAheadLog(f"bench-record-{number}")
        started = time.process_time()
        for lo in range(0, n, batch):
            group = outcomes[lo:lo + batch]
            record.begin([o.id for o in group])
            for outcome in group:
                record.record([outcome])
            record.settle(group)
        record.close(drop=True)
        figures.append((time.process_time() - started) / n * 1e6)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000, help="messages per pass")
    parser.add_argument("--batch", type=int, default=100, help="messages per claimed batch")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/9")
    args = parser.parse_args()

    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": args.redis,
                      "HERALD_PREFIX": "herald-bench-record", "SECRET_KEY": "bench-secret",
                      "BASE_URL": "http://bench.herald.test"})
    with app.app_context():
        figures = passes(args.n, args.batch, args.passes)
    print(f"write-ahead record: {min(figures):.1f} µs CPU/message at best "
          f"({', '.join(f'{f:.1f}' for f in figures)}; {args.n} messages, batches of {args.batch})")


if __name__ == "__main__":
    main()
