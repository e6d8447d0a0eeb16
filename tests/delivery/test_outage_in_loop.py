"""A database outage that reaches the send loop's own thread in the middle of a batch (the rate
limiter rereads the settings every 5 s while it paces the loop) leaves nothing unknown: the
rates in force hold until the database answers (found by review: the reread's error stopped the
batch, the recovery could not write, and the reaper called a never-sent row unknown)."""
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.core.settings.services import set_option
from app.delivery import reaper
from app.delivery.chunks import Lease
from app.delivery.models import Delivery
from app.delivery.sending import Sender
from tests.faults import TcpProxy, wait_for

from .test_claims import _planned

pytestmark = pytest.mark.committed


def test_an_outage_at_the_rate_limiters_reread_leaves_nothing_unknown(app, db, database_url, smtp_sink,
                                                                      product, jobs, make_app):
    if database_url.startswith("sqlite"):
        pytest.skip("the outage is a TCP proxy cut in front of PostgreSQL (TEST_DATABASE_URL)")
    set_option("delivery.rate_per_second", "4/s")
    db.session.commit()
    run_id = _planned(jobs, product, 40)
    parts = urlsplit(database_url)
    proxy = TcpProxy(parts.hostname, parts.port or 5432).start()
    other = make_app(SQLALCHEMY_DATABASE_URI=proxy.url(database_url), DELIVERY_BATCH_SIZE=5,
                     DELIVERY_LEASE_SECONDS=2)
    box, errors = {}, []

    def send():
        with other.app_context():
            try:
                with Lease() as lease:
                    sender = box["sender"] = Sender(run_id, lease.token, lease=lease)
                    try:
                        box["reason"] = sender.run([Delivery.status == "queued"])
                    finally:
                        sender.close()
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(smtp_sink.messages) >= 6, 30, interval=0.01, what="the send to start")
        limiter = box["sender"].limiter
        while limiter.recheck_at - time.monotonic() > 0.15:  # cut just before the next reread
            time.sleep(0.01)
        proxy.cut()
        time.sleep(4)
    finally:
        proxy.restore()
    thread.join(60)
    time.sleep(2.5)  # any lease lapses, as a dead job's would
    reaper.supervise(run_id, thorough=True)
    db.session.commit()
    rows = dict(db.session.execute(select(Delivery.email, Delivery.status)
                                   .where(Delivery.run_id == run_id)).all())
    received = Counter(smtp_sink.recipients())
    assert not errors and box.get("reason") == "done", errors
    assert max(received.values()) == 1
    assert Counter(rows.values()) == {"sent": 40} and set(received) == set(rows)
