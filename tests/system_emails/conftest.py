"""Fixtures of the system-email tests: a real SMTP server (aiosmtpd), workers, a set-up network."""
import asyncio
import socket
from email import policy
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller

from app.core.extensions import db
from app.core.worker import make_worker


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SinkHandler:
    """Keeps every message; answers RCPT for chosen addresses with chosen replies (on cue)."""

    def __init__(self):
        self.messages = []
        self.replies = {}  # address -> list of replies used one by one, e.g. ["451 4.7.1 later"]
        self.delay = 0.0  # seconds DATA takes to answer (a slow server)
        self.in_data = 0  # how many messages reached DATA

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        queued = self.replies.get(address.lower())
        if queued:
            return queued.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.in_data += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "message": message})
        return "250 2.0.0 Message accepted"

    def to(self, address):
        """The messages whose envelope went to ``address``."""
        return [m for m in self.messages if address in m["to"]]

    def subjects(self):
        """(recipient, subject) of every message, sorted."""
        return sorted((rcpt, m["message"]["subject"]) for m in self.messages for rcpt in m["to"])


@pytest.fixture
def smtp_sink():
    """A real SMTP server on a free loopback port, stopped after the test."""
    handler = SinkHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture
def app_config(smtp_sink):
    """Send through the test's SMTP server; retry temporary failures without waiting."""
    return {"SMTP_URL": f"smtp://127.0.0.1:{smtp_sink.port}", "SYSTEM_EMAIL_RETRY_SECONDS": 0}


@pytest.fixture
def run_jobs(app):
    """Run every queued job (and, with scheduler=True, every due scheduled job) in this process."""
    def run(scheduler=False):
        db.session.remove()
        make_worker(simple=True).work(burst=True, with_scheduler=scheduler)
        db.session.remove()
    return run


@pytest.fixture
def network(app, admin):
    """A set-up network: Core e-mails active with its default e-mails installed, one admin."""
    from app.plugins.network_setup import setup_network

    setup_network()
    db.session.commit()
    return admin
