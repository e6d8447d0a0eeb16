"""Delivery fixtures: a real SMTP sink (aiosmtpd) that can refuse chosen addresses, broadcasts
written directly as rows, and a burst RQ worker that runs the delivery jobs for real."""
import socket
import threading
import time
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import inspect

from app.broadcasts.models import Broadcast, BroadcastRun, BroadcastTarget
from app.core.extensions import db as _db
from app.core.utils import utcnow
from app.delivery.jobs import plan_run
from app.mail.suppression import Suppression
from app.network.models import Customer, Membership, Product

from .scripted_smtp import ScriptedSMTP


@pytest.fixture
def scripted_smtp():
    """A ScriptedSMTP server (tests/delivery/scripted_smtp.py), started; set its script first."""
    server = ScriptedSMTP().start()
    yield server
    server.stop()


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Captured:
    """One message the sink accepted."""
    mail_from: str
    rcpt_tos: list
    data: bytes
    at: float
    peer: tuple = ()

    @property
    def message(self):
        """The parsed message (email.message.EmailMessage)."""
        return BytesParser(policy=policy.default).parsebytes(self.data)


@dataclass
class SinkHandler:
    """Accepts everything except the addresses in ``cues``: {address: [reply, ...]}, one reply used
    per attempt (the last one repeats), e.g. ``["451 4.3.0 Try later", "250 OK"]``."""
    messages: list = field(default_factory=list)
    cues: dict = field(default_factory=dict)
    delay: float = 0.0
    pipelining: bool = True  # advertise RFC 2920 PIPELINING (aiosmtpd handles it, silently)
    smtputf8: bool = True  # advertise RFC 6531 SMTPUTF8 (aiosmtpd's Controller enables it)
    attempts: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname
        if self.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        if not self.smtputf8:
            responses = [line for line in responses if "SMTPUTF8" not in line]
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        with self.lock:
            self.attempts[address] = self.attempts.get(address, 0) + 1
            replies = self.cues.get(address)
            reply = replies[min(len(replies), self.attempts[address]) - 1] if replies else "250 OK"
        if not reply.startswith("250"):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.delay:
            import asyncio
            await asyncio.sleep(self.delay)
        with self.lock:
            self.messages.append(Captured(envelope.mail_from, list(envelope.rcpt_tos),
                                          envelope.original_content, time.monotonic(), session.peer))
        return "250 2.0.0 Queued"

    def recipients(self) -> list:
        """Every envelope recipient of every accepted message, in order."""
        with self.lock:
            return [r for m in self.messages for r in m.rcpt_tos]


@pytest.fixture
def smtp_sink():
    """A running aiosmtpd sink on a free port; yields its handler (``.port`` set)."""
    handler = SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    yield handler
    controller.stop()


@pytest.fixture
def app_config(smtp_sink):
    """Small chunks and batches so a few dozen recipients exercise many jobs; short leases."""
    return {"SMTP_URL": f"smtp://127.0.0.1:{smtp_sink.port}", "DELIVERY_CHUNK_SIZE": 20,
            "DELIVERY_BATCH_SIZE": 5, "DELIVERY_LEASE_SECONDS": 2, "DELIVERY_JOB_SECONDS": 60,
            "MAIL_FROM": "Herald Network <noreply@herald.test>"}


def ident(obj) -> int:
    """The primary key of a model instance, even detached after a worker run closed the session."""
    return inspect(obj).identity[0]


def add_customers(emails_and_names, product=None, status="active"):
    """Create customers (optionally members of ``product``); returns them in order."""
    people = []
    for email, name in emails_and_names:
        person = Customer(email=email, name=name)
        _db.session.add(person)
        people.append(person)
    _db.session.flush()
    if product is not None:
        for person in people:
            _db.session.add(Membership(customer_id=person.id, product_id=ident(product), status=status))
    _db.session.commit()
    return people


def make_run(customers=(), products=(), subject="Hello {{ customer_name }}",
             body="<p>Hi {{ customer_first_name }}, news for you.</p>", **options):
    """An e-mail broadcast targeting ``customers`` and ``products``, with a run in planning."""
    broadcast = Broadcast(kind="email", status="sending", subject=subject, body_html=body, **options)
    broadcast.targets = ([BroadcastTarget(customer_id=ident(c)) for c in customers]
                         + [BroadcastTarget(product_id=ident(p)) for p in products])
    _db.session.add(broadcast)
    _db.session.flush()
    run = BroadcastRun(broadcast_id=broadcast.id, occurrence_at=utcnow(), status="planning")
    _db.session.add(run)
    _db.session.commit()
    return run


def suppress(email, reason):
    """Put ``email`` on the suppression list."""
    _db.session.add(Suppression(email=email, reason=reason, source="test"))
    _db.session.commit()


def work(max_jobs=None):
    """Run the queued delivery jobs in this process (all of them, or ``max_jobs``)."""
    from app.core.worker import make_worker

    _db.session.commit()  # end the test's transaction: SQLite would lock the jobs out
    make_worker(queues=("delivery",), simple=True).work(burst=True, max_jobs=max_jobs)
    _db.session.expire_all()


def start(run):
    """Enqueue the run's planning the way the broadcasts wizard does, and run the jobs."""
    from app.core.jobs import enqueue_now

    enqueue_now(plan_run, run.id, queue="delivery")
    work()


@pytest.fixture
def product(app):
    """A product to target."""
    item = Product(slug="pro", name="Pro")
    _db.session.add(item)
    _db.session.commit()
    return item
