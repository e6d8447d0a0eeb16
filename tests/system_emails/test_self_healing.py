"""System e-mails heal too: a send a SIGKILLed worker left in ``sending`` is settled by the
supervisor (unknown when its SMTP transaction had started), and a due send whose job Redis lost is
enqueued again."""
import time

import pytest
from sqlalchemy import select

from app.core.extensions import db
from app.core.supervisor import Supervisor
from app.system_emails import services
from app.system_emails.models import SystemEmail, SystemEmailSend
from app.testing.settings import PREFIX
from tests.faults import Workers, wait_for

pytestmark = pytest.mark.committed  # workers read what the tests write


@pytest.fixture
def app_config():
    """Retry temporary failures without waiting; leases of one second."""
    return {"SYSTEM_EMAIL_RETRY_SECONDS": 0, "JOB_LEASE_SECONDS": 1}


def _test_send(address):
    email = db.session.scalar(select(SystemEmail).order_by(SystemEmail.id).limit(1))
    send = services.send_test(email, address)
    db.session.commit()
    return send.id


def _send(send_id):
    db.session.expire_all()
    return db.session.get(SystemEmailSend, send_id)


def test_a_send_left_in_sending_by_a_killed_worker_becomes_unknown(app, network, database_url, tmp_path,
                                                                    smtp_sink, redis_database):
    smtp_sink.delay = 30  # the server takes its time to answer the final dot
    send_id = _test_send("slow@example.com")
    workers = Workers({"DATABASE_URL": database_url, "REDIS_URL": redis_database.url,
                       "HERALD_PREFIX": PREFIX, "SECRET_KEY": "test-secret",
                       "HERALD_INSTANCE": tmp_path, "SMTP_URL": f"smtp://127.0.0.1:{smtp_sink.port}",
                       "JOB_LEASE_SECONDS": 1}, tmp_path / "worker-logs")
    try:
        workers.start("w1", "--queues", "emails", "--simple")
        wait_for(lambda: smtp_sink.data_started, 60, what="the SMTP transaction to reach DATA")
        workers.kill("w1")
    finally:
        workers.stop_all()
    assert _send(send_id).status == "sending"
    time.sleep(1.5)  # the dead job's lease runs out
    assert Supervisor(app).run_once() >= 1
    send = _send(send_id)
    assert send.status == "unknown" and "SMTP transaction" in send.reason
    assert Supervisor(app).run_once() >= 0 and _send(send_id).status == "unknown", "never re-sent by itself"


def test_a_due_send_whose_job_redis_lost_is_enqueued_again(app, network, worker, smtp_sink, redis_client):
    send_id = _test_send("lost@example.com")
    redis_client.flushdb()  # Redis restarted empty: the job is gone
    worker.work()
    assert _send(send_id).status == "queued" and smtp_sink.to("lost@example.com") == []
    time.sleep(1.1)  # due more than a lease ago
    assert Supervisor(app).run_once() >= 1
    worker.work()
    assert _send(send_id).status == "sent"
    assert len(smtp_sink.to("lost@example.com")) == 1


def test_a_send_whose_reply_is_lost_after_the_final_dot_is_unknown(app, network, worker, smtp_sink):
    smtp_sink.hang_up = {"hangup@example.com"}
    send_id = _test_send("hangup@example.com")
    worker.work()
    send = _send(send_id)
    assert send.status == "unknown" and "dropped after the message was sent" in send.reason
    worker.work()
    assert len(smtp_sink.to("hangup@example.com")) == 1, "never sent twice by itself"
