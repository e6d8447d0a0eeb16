"""A sending worker frozen (SIGSTOP) past its lease never sends again once thawed: its lease is
fenced, so the rows the reaper gave to another worker go out once (found by review: before the
fence a thawed job could refresh its lease first and send the rest of its batch and the batch
it had claimed ahead, which the other worker sent too)."""
import os
import random
import signal
import time

import pytest
from sqlalchemy import select

from app.delivery.models import Delivery
from tests.faults import _descendants

from .conftest import add_customers, make_run
from .test_self_healing import _counts, _finished, _once_each, _start, _started, _up_for_an_hour, _workers
from .test_self_healing import app_config  # noqa: F401 - the same settings as the self-healing tests

pytestmark = pytest.mark.committed  # worker processes read what the tests write
SHORT = {"DELIVERY_LEASE_SECONDS": 2, "JOB_LEASE_SECONDS": 2, "SUPERVISOR_SECONDS": 1,
         "DELIVERY_BATCH_SIZE": 4, "DELIVERY_CHUNK_SIZE": 24, "TRANSIENT_RETRY_MAX_DELAY": 1}


def test_a_worker_frozen_longer_than_its_lease_never_sends_twice(app, db, database_url, redis_database,
                                                                  tmp_path, smtp_sink, product):
    """Four freezes of 4 s (the lease is 2 s) at random moments, each worker in turn; the other
    worker takes the frozen one's claim over meanwhile. Nobody gets the message twice; each
    freeze leaves at most the message whose transaction was open unknown."""
    smtp_sink.delay = 0.01
    rng = random.Random(3)
    add_customers([(f"z{i:03d}@example.com", "Z") for i in range(600)], product)
    run_id = make_run(products=[product]).id
    workers = _workers(tmp_path, database_url, redis_database.url, smtp_sink, **SHORT)
    _up_for_an_hour(app.extensions["herald_redis"])
    try:
        workers.start("w1", "--with-scheduler")
        workers.start("w2", "--with-scheduler")
        workers.wait_ready(redis_database.url)
        _start(run_id)
        _started(smtp_sink, 5, workers)
        for name in ("w1", "w2", "w1", "w2"):
            time.sleep(rng.uniform(0.1, 1.0))
            family = [workers.processes[name].pid, *_descendants(workers.processes[name].pid)]
            for pid in family:
                os.kill(pid, signal.SIGSTOP)
            time.sleep(4)
            for pid in family:
                os.kill(pid, signal.SIGCONT)
        _finished(db, run_id, 180, workers)
    finally:
        workers.stop_all()
    received = _once_each(smtp_sink, 600)
    counts = _counts(db, run_id)
    unknown = set(db.session.scalars(select(Delivery.email).where(Delivery.run_id == run_id,
                                                                  Delivery.status == "unknown")))
    assert set(counts) <= {"sent", "unknown"} and len(unknown) <= 4, counts
    assert counts["sent"] + len(unknown) == 600 and counts["sent"] == len(set(received) - unknown)
