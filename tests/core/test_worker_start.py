"""``flask rq worker`` started while the database is away waits for it (one line per attempt,
1, 2, 4 … 30 s apart) and then works, instead of exiting with "Herald cannot start" and staying
down until something outside restarts it (fresh-clone review, item 10); a database that no wait
brings (no such database) still ends the start at once with that line."""
import time
from urllib.parse import urlsplit

import pytest

from app.testing import make_product
from tests.delivery.conftest import add_customers, make_run
from tests.delivery.test_self_healing import _finished, _start, _status, _workers
from tests.faults import TcpProxy

pytestmark = pytest.mark.committed  # the worker process reads what the test writes


def _postgresql(database_url):
    if database_url.startswith("sqlite"):
        pytest.skip("the outage is a TCP proxy cut in front of PostgreSQL (TEST_DATABASE_URL)")
    return urlsplit(database_url)


def test_a_worker_started_during_a_database_outage_comes_up_when_it_returns(
        app, db, database_url, redis_database, tmp_path, smtp_sink):
    parts = _postgresql(database_url)
    product = make_product("pro", "Pro")
    add_customers([(f"w{i}@example.com", "W") for i in range(3)], product)
    run_id = make_run(products=[product]).id
    proxy = TcpProxy(parts.hostname, parts.port or 5432).start()
    proxy.cut()  # connections refused, as by a database that is down
    workers = _workers(tmp_path, proxy.url(database_url), redis_database.url, smtp_sink)
    try:
        process = workers.start("w1")
        time.sleep(4)
        assert process.poll() is None, f"the worker waits rather than exit\n{workers.logs()}"
        proxy.restore()
        back = time.monotonic()
        workers.wait_ready(redis_database.url)
        ready = time.monotonic() - back
        _start(run_id)
        _finished(db, run_id, 60, workers)
    finally:
        proxy.cut()
        workers.stop_all()
    log = workers.logs()
    assert "Herald is waiting (attempt 1, next in 1 s): Database at" in log
    assert "attempt 2, next in 2 s" in log and "Herald cannot start" not in log
    assert ready < 10, "it comes up at its next attempt after the database returns (at most 4 s here)"
    assert _status(db, run_id) == "sent" and len(smtp_sink.recipients()) == 3, "and works"


def test_a_worker_whose_database_does_not_exist_exits_at_once(app, database_url, redis_database, tmp_path,
                                                               smtp_sink):
    parts = _postgresql(database_url)
    missing = parts._replace(path="/herald_no_such_database").geturl()
    workers = _workers(tmp_path, missing, redis_database.url, smtp_sink)
    process = workers.start("w1")
    try:
        code = process.wait(timeout=30)
    finally:
        workers.stop_all()
    log = workers.logs()
    assert code == 1 and "Herald cannot start: Database at" in log and "does not exist" in log, log
    assert "Herald is waiting" not in log
