"""When Redis or the database does not answer, a request gets a 503 with a message and Retry-After,
never a 500 or a wait without end; Redis used as a cache (audience counts) is done without; a job a
committed request could not enqueue is enqueued by the supervisor once Redis is back."""
import os
import signal

import pytest
from sqlalchemy import select

from app.api.keys import issue_key
from app.broadcasts.models import BroadcastRun
from app.core.extensions import db
from app.core.supervisor import Supervisor
from app.testing import csrf_token
from tests.faults import RedisServer, SQLiteWriteLock

pytestmark = pytest.mark.committed  # the lock and the supervisor read what the test writes


@pytest.fixture
def private_redis(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    if server.process is not None:
        os.kill(server.process.pid, signal.SIGCONT)
    server.stop()


@pytest.fixture
def app_config(request):
    config = {"REDIS_SOCKET_TIMEOUT": 1, "SQLITE_BUSY_SECONDS": 1, "SUPERVISOR_SECONDS": 1}
    if "private_redis" in request.fixturenames:
        config["REDIS_URL"] = request.getfixturevalue("private_redis").url
    return config


def _api(client, network):
    _, secret = issue_key(network.admin, "outage")
    db.session.commit()
    return lambda method, path, **kw: client.open(f"/api/v1{path}", method=method,
                                                  headers={"Authorization": f"Bearer {secret}"}, **kw)


DRAFT = {"kind": "notice", "subject": "Hi", "body_html": "<p>x</p>"}


def _unavailable(answer):
    assert answer.status_code == 503, (answer.status_code, answer.get_data(as_text=True)[:300])
    assert answer.headers["Retry-After"] == "5"
    return answer


@pytest.mark.parametrize("outage", ["stopped", "paused"])
def test_without_redis_drafts_are_made_sends_accepted_and_redis_pages_answer_503(app, client, network,
                                                                                private_redis, outage):
    api = _api(client, network)
    draft = api("POST", "/broadcasts", json={**DRAFT, "kind": "email", "product_ids": [network.starter.id]}).get_json()
    token = csrf_token(client, "/login")
    if outage == "stopped":
        private_redis.stop()  # refused at once
    else:
        os.kill(private_redis.process.pid, signal.SIGSTOP)  # accepts, never answers: the socket timeout
    made = api("POST", "/broadcasts", json={**DRAFT, "kind": "email", "product_ids": [network.starter.id]})
    assert made.status_code == 201 and made.get_json()["audience_size"] == draft["audience_size"]
    sent = api("POST", f"/broadcasts/{draft['id']}/send", json={})
    assert sent.status_code == 202, sent.get_data(as_text=True)[:300]
    login = client.post("/login", data={"csrf_token": token, "email": "boss@example.com", "password": "x"})
    assert "could not reach its database or Redis" in _unavailable(login).get_data(as_text=True)
    run_id = db.session.scalar(select(BroadcastRun.id).where(BroadcastRun.broadcast_id == draft["id"]))
    db.session.rollback()
    page = api("GET", f"/delivery/runs/{run_id}")
    assert page.status_code in (200, 503), page.status_code  # figures from the database, progress from Redis
    if outage == "stopped":
        private_redis.start()
    else:
        os.kill(private_redis.process.pid, signal.SIGCONT)
    run = db.session.scalar(select(BroadcastRun).where(BroadcastRun.broadcast_id == draft["id"]))
    assert run.status == "planning"
    assert Supervisor(app).run_once() >= 1  # heals the run: its planning job is enqueued now
    from app.core.jobs import get_queue
    assert get_queue("delivery").count == 1


def test_a_locked_database_answers_503_after_the_busy_timeout(app, client, network):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    api = _api(client, network)
    lock = SQLiteWriteLock(app.config["SQLALCHEMY_DATABASE_URI"])
    lock.cut()
    try:
        _unavailable(api("POST", "/broadcasts", json=DRAFT))
        token = csrf_token(client, "/login")
        assert token  # reading still works (WAL)
    finally:
        lock.restore()
    assert api("POST", "/broadcasts", json=DRAFT).status_code == 201
