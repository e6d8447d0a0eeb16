"""A database outage during which Redis restarts empty leaves nothing unknown (fresh-clone review,
item 1: about 1,440 rows unknown with no worker killed). The job that meets the restart mid-batch
keeps the outcomes it holds, writes its record again on the new Redis, and retries the ledger
write with backoff until the database answers, instead of trying once and leaving its claim to
the reaper with no record."""
import time

import pytest

from tests.faults import OUTAGE_SECONDS, report

from .conftest import add_customers, make_run
from .test_self_healing import (  # noqa: F401 - app_config and private_redis are fixtures
    _counts,
    _cut,
    _finished,
    _once_each,
    _outage,
    _sending,
    _status,
    _workers,
    app_config,
    private_redis,
)

pytestmark = pytest.mark.committed  # worker processes read what the tests write


@pytest.mark.parametrize("killed", [None, "w2"])
def test_redis_restarted_empty_during_a_database_outage_leaves_nothing_unknown(
        app, db, database_url, tmp_path, smtp_sink, product, private_redis, killed):
    """Batches of 100 at 30 ms a message: the database is cut while both jobs send their first
    batch (the batch ahead already claimed), Redis restarts empty a second later (down 1 s), so
    each job's record goes while the database cannot take its outcomes. ``killed``: that worker
    is SIGKILLed 4 s after Redis came back, the database still away: the reaper settles its
    claim from the record its job wrote again on the new Redis."""
    smtp_sink.delay = 0.03
    add_customers([(f"d{i:03d}@example.com", "D") for i in range(400)], product)
    run_id = make_run(products=[product]).id
    fault, worker_url, extra = _outage(database_url)
    workers = _workers(tmp_path, worker_url, private_redis.url, smtp_sink, DELIVERY_CHUNK_SIZE=200,
                       DELIVERY_BATCH_SIZE=100, **extra)
    try:
        _sending(workers, private_redis.url, smtp_sink, run_id, started=40)
        with _cut(fault):
            cut_at = time.monotonic()
            time.sleep(1)
            private_redis.restart_empty(down_seconds=1)
            if killed:
                time.sleep(4)
                workers.kill(killed)
            time.sleep(max(0.0, cut_at + OUTAGE_SECONDS - time.monotonic()))
        back = time.monotonic()
        done = _finished(db, run_id, 120, workers)
        alive = workers.alive()
    finally:
        workers.stop_all()
    counts = _counts(db, run_id)
    report("database_outage_with_redis_restarted", dialect=db.engine.dialect.name, killed=killed,
           outage_seconds=OUTAGE_SECONDS, finished_after_return_seconds=round(done - back, 1),
           unknown=counts.get("unknown", 0))
    assert _status(db, run_id) == "sent"
    assert counts == {"sent": 400}, "no row unknown, none left behind"
    assert len(_once_each(smtp_sink, 400)) == 400
    assert alive == ["w1", "w2"][:1 if killed else 2], "the workers survive the outage"
