"""The SMTP sink: a real SMTP server (aiosmtpd) in the test process that keeps what it receives."""
import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from functools import cached_property

import pytest


@dataclass
class Captured:
    """One message the sink accepted: its envelope, raw bytes, arrival time and the client's address."""
    mail_from: str
    rcpt_tos: list
    data: bytes
    at: float
    peer: tuple = ()
    mail_options: list = field(default_factory=list)  # MAIL FROM's parameters, e.g. "SMTPUTF8"

    @cached_property
    def message(self):
        """The parsed message (an ``email.message.EmailMessage``)."""
        return BytesParser(policy=policy.default).parsebytes(self.data)

    @property
    def subject(self) -> str:
        """The decoded Subject header."""
        return str(self.message["Subject"])


@dataclass
class SMTPSink:
    """The handler of the test SMTP server; ``messages`` holds every accepted message in order.

    ``cues`` makes chosen recipients fail: ``{address: [reply, ...]}``, one reply per RCPT attempt
    and the last one repeating (``["451 4.3.0 Try later", "250 OK"]`` fails once, then accepts).
    ``attempts`` counts RCPT commands per address; ``delay`` slows each DATA (seconds), ``slow``
    ({address: seconds}) the DATA of a message to one of those addresses, on top of ``delay``;
    ``data_started`` counts messages whose content arrived (before the delay: a test can kill the
    sender while the server has not answered yet); ``hang_up`` holds addresses whose message is
    accepted and kept but whose connection is then dropped without a reply; ``pipelining``
    advertises RFC 2920 PIPELINING, ``smtputf8`` RFC 6531 SMTPUTF8 (aiosmtpd's Controller accepts
    UTF-8 addresses). ``reset()`` runs before every test.
    """
    messages: list = field(default_factory=list)
    cues: dict = field(default_factory=dict)
    attempts: dict = field(default_factory=dict)
    delay: float = 0.0
    slow: dict = field(default_factory=dict)
    data_started: int = 0
    hang_up: set = field(default_factory=set)
    pipelining: bool = True
    smtputf8: bool = True
    host: str = "127.0.0.1"
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def url(self) -> str:
        """The ``SMTP_URL`` of this server."""
        return f"smtp://{self.host}:{self.port}"

    def reset(self) -> None:
        """Forget messages, cues and attempts; back to accepting everything at once."""
        with self.lock:
            self.messages.clear()
            self.cues.clear()
            self.attempts.clear()
            self.delay, self.pipelining, self.smtputf8, self.data_started = 0.0, True, True, 0
            self.hang_up.clear()
            self.slow.clear()

    def to(self, address: str) -> list:
        """The messages whose envelope went to ``address``."""
        with self.lock:
            return [m for m in self.messages if address in m.rcpt_tos]

    def recipients(self) -> list:
        """Every envelope recipient of every accepted message, in order."""
        with self.lock:
            return [r for m in self.messages for r in m.rcpt_tos]

    def subjects(self) -> list:
        """``(recipient, subject)`` of every message, sorted."""
        with self.lock:
            return sorted((rcpt, m.subject) for m in self.messages for rcpt in m.rcpt_tos)

    # aiosmtpd handler hooks
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
            replies = self.cues.get(address) or self.cues.get(address.lower())
            reply = (replies.pop(0) if len(replies) > 1 else replies[0]) if replies else "250 OK"
        if not reply.startswith("250"):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.data_started += 1
        delay = self.delay + max((self.slow.get(address, 0) for address in envelope.rcpt_tos), default=0)
        if delay:
            await asyncio.sleep(delay)
        with self.lock:
            self.messages.append(Captured(envelope.mail_from, list(envelope.rcpt_tos),
                                          envelope.original_content, time.monotonic(), session.peer,
                                          list(envelope.mail_options)))
        if self.hang_up & set(envelope.rcpt_tos):
            server.transport.close()  # kept, but the client never hears so
        return "250 2.0.0 Message accepted"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server():
    """Session: the one SMTP server of the run (every test app's SMTP_URL); yields its SMTPSink."""
    from aiosmtpd.controller import Controller

    sink = SMTPSink()
    controller = Controller(sink, hostname=sink.host, port=free_port(sink.host))
    controller.start()
    sink.port = controller.port
    yield sink
    controller.stop()


@pytest.fixture
def smtp_sink(smtp_server):
    """Function: the run's SMTP sink, emptied for this test (``.messages``, ``.to()``, ``.cues``).

    The send loop's pooled connections are closed before and after: one opened in another test
    would remember what the sink offered then (PIPELINING, SMTPUTF8)."""
    from app.mail.transport import pool

    smtp_server.reset()
    pool.close_all()
    yield smtp_server
    pool.close_all()
    smtp_server.reset()
