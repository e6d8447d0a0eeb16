"""sys.exit() in plugin code is a fault like any exception: the payment is saved, the e-mail sent,
the page answers 500 and the process goes on (issue 16)."""
import os
import signal
import time

import pytest
from sqlalchemy import select

from app.billing.models import Payment
from app.core.extensions import db
from app.system_emails.models import SystemEmailSend
from tests.plugins.helpers import cli, network, work


def _faults(app):
    with app.app_context():
        records = app.extensions["herald_plugins"].faults.faults(["exits"]).get("exits", [])
    return {record.where: record for record in records}


def test_sys_exit_in_an_action_a_worker_filter_and_a_page_is_contained(faulty_app, customer, smtp_sink):
    client = network(faulty_app, "exits")
    result = cli(faulty_app, "payments", "record", "--customer", "carol@example.com", "--amount", "3")
    assert result.exit_code == 0, result.output
    with faulty_app.app_context():
        assert db.session.scalars(select(Payment.status)).all() == ["paid"]
    work(faulty_app)  # the worker's message filter exits: the e-mails still go
    with faulty_app.app_context():
        assert set(db.session.scalars(select(SystemEmailSend.status))) == {"sent"}
    assert smtp_sink.to("carol@example.com")
    assert client.get("/plugins/exits/").status_code == 500
    assert client.get("/network/").status_code == 200  # the process is still serving
    faults = _faults(faulty_app)
    assert faults["payment_recorded"].error == "SystemExit: 3"
    assert faults["system_email_message"].error == "SystemExit: 5"
    assert faults["view plugin_exits.index"].error == "SystemExit: 4"


def test_a_signal_handler_s_exit_still_stops_the_process(app):
    """A worker or gunicorn told to stop while a callback runs stops: not the plugin's fault."""
    guard = app.extensions["herald_plugins"].guard

    def stop(signum, frame):
        raise SystemExit(0)

    previous = signal.signal(signal.SIGUSR1, stop)
    try:
        with app.app_context(), pytest.raises(SystemExit):
            guard.action("demo", "some_action", lambda: os.kill(os.getpid(), signal.SIGUSR1) or
                         time.sleep(5), (), {})
    finally:
        signal.signal(signal.SIGUSR1, previous)
    with app.app_context():
        assert app.extensions["herald_plugins"].faults.faults(["demo"]) == {}
