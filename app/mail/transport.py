"""Mail transports: the SMTP client built from SMTP_URL, pluggable by URL scheme, and the pool."""
import smtplib
import ssl
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlparse

from ..core.hooks import apply_filters
from .outcomes import (
    MAILBOX_CODES,
    SENT,
    UNKNOWN,
    DeliveryError,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
    UnknownOutcome,
    classify,
    local_result,
)
from .smtp_session import SMTPSession, dot_stuffed

__all__ = ["SENT", "UNKNOWN", "DeliveryError", "TemporaryFailure", "PermanentFailure", "UnknownOutcome",
           "SendResult",
           "classify", "dot_stuffed", "MAILBOX_CODES", "SMTPSettings", "SMTPTransport",
           "make_transport", "TransportPool", "pool"]


@dataclass(frozen=True)
class SMTPSettings:
    """Connection settings parsed from an SMTP URL."""
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False
    starttls: bool = False
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> "SMTPSettings":
        """Parse ``smtp://user:pass@host:port?starttls=1`` or ``smtps://...``."""
        parsed = urlparse(url)
        if parsed.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP_URL must start with smtp:// or smtps://, not {url!r}")
        query = parse_qs(parsed.query)
        implicit = parsed.scheme == "smtps"
        return cls(host=parsed.hostname or "127.0.0.1",
                   port=parsed.port or (465 if implicit else 25),
                   username=unquote(parsed.username) if parsed.username else None,
                   password=unquote(parsed.password) if parsed.password else None,
                   implicit_tls=implicit,
                   starttls=query.get("starttls", ["0"])[0] in ("1", "true", "yes"),
                   timeout=float(query.get("timeout", ["30"])[0]))


class SMTPTransport(SMTPSession):
    """One reusable SMTP connection, opened when first needed (see ``SMTPSession`` for sending).

    Bundled schemes: ``smtp://`` (``?starttls=1``), ``smtps://``; the ``mail_transports`` filter
    maps more schemes to factories (e.g. an HTTP API provider). The local mail catcher of `make
    run` is reached with plain ``smtp://127.0.0.1:1025``.

    smtplib opens it: the TCP or TLS connection (``smtps://``), STARTTLS (``?starttls=1``), EHLO
    (HELO for servers without ESMTP) and AUTH; the session then talks on its socket.
    """

    def __init__(self, settings: SMTPSettings):
        super().__init__()
        self.settings = settings

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        try:
            if s.implicit_tls:
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo_or_helo_if_needed()
            if s.username:
                smtp.login(s.username, s.password or "")
        except smtplib.SMTPResponseException as error:
            raise classify(error.smtp_code, error.smtp_error) from None
        except (OSError, smtplib.SMTPException) as error:
            raise TemporaryFailure(421, f"cannot connect to {s.host}:{s.port}: {error}",
                                   local=True) from None
        return smtp

    def send(self, message_bytes: bytes, envelope_from: str, recipient: str) -> SendResult:
        """Send one message and wait for its outcome; raises TemporaryFailure (UnknownOutcome
        when the reply to the content never came) or PermanentFailure. For callers that send one
        message at a time (test sends, system e-mails); the send loop uses ``submit``."""
        if not self.idle:
            raise RuntimeError("flush() the pipelined messages before send()")
        result = (self.submit(None, message_bytes, envelope_from, recipient) + self.flush())[-1]
        if not result.accepted:
            raise result.error
        return result


class OneAtATime:
    """``submit``/``flush`` for a plugin's transport that only has ``send`` and ``close``: each
    message is sent when submitted and its outcome returned at once."""

    idle = True

    def __init__(self, transport):
        self.transport = transport

    def submit(self, key, message_bytes: bytes, envelope_from: str, recipient: str,
               meanwhile=None) -> list[SendResult]:
        """Send one message now; its outcome (``key`` set). ``meanwhile`` is never called (nothing
        to overlap: the plugin's ``send`` waits for its answer)."""
        try:
            result = self.transport.send(message_bytes, envelope_from, recipient)
        except DeliveryError as error:
            return [local_result(key, error)]
        return [SendResult(result.code, result.reply, SENT, key)]

    def flush(self) -> list[SendResult]:
        """Nothing is ever left in flight."""
        return []

    def abandon(self):
        """Nothing is ever left in flight: None."""
        return None

    def send(self, message_bytes: bytes, envelope_from: str, recipient: str) -> SendResult:
        """The plugin transport's own ``send``."""
        return self.transport.send(message_bytes, envelope_from, recipient)

    def close(self) -> None:
        """Close the plugin's transport."""
        self.transport.close()


def make_transport(url: str):
    """A transport for ``url``, through the ``mail_transports`` filter (scheme -> factory); one
    without ``submit`` (written for the one-message ``send`` API) is wrapped in OneAtATime."""

    factories = apply_filters("mail_transports", {"smtp": _smtp_factory, "smtps": _smtp_factory})
    scheme = urlparse(url).scheme
    if scheme not in factories:
        raise ValueError(f"no mail transport for {scheme!r} URLs (known: {', '.join(sorted(factories))})")
    transport = factories[scheme](url)
    return transport if hasattr(transport, "submit") else OneAtATime(transport)


def _smtp_factory(url):
    return SMTPTransport(SMTPSettings.from_url(url))


class TransportPool:
    """A few open transports per URL, kept by one worker process between chunks.

    A transport idle for longer than ``max_idle`` seconds is closed first (servers drop idle
    clients); one released unhealthy (a message still in flight, or an error) is closed, never
    reused.
    """

    def __init__(self, size: int = 2, max_idle: float = 30.0):
        self.size, self.max_idle = size, max_idle
        self._idle: dict[str, list] = {}

    def acquire(self, url: str):
        """An open (or lazily opening) transport for ``url``."""
        idle = self._idle.get(url, [])
        while idle:
            transport, since = idle.pop()
            if time.monotonic() - since <= self.max_idle:
                return transport
            transport.close()
        return make_transport(url)

    def release(self, url: str, transport, healthy: bool = True) -> None:
        """Give ``transport`` back (or close it when the pool is full or it is not healthy)."""
        idle = self._idle.setdefault(url, [])
        if healthy and getattr(transport, "idle", True) and len(idle) < self.size:
            idle.append((transport, time.monotonic()))
        else:
            transport.close()

    def close_all(self) -> None:
        """Close every idle transport."""
        for idle in self._idle.values():
            for transport, _ in idle:
                transport.close()
        self._idle.clear()


pool = TransportPool()
