"""Mail transports: the SMTP client built from SMTP_URL, with failures classed temporary/permanent.

Transports are pluggable: the ``mail_transports`` filter maps a URL scheme to a factory, so a
plugin can add e.g. an HTTP API provider. Bundled: ``smtp://`` (``?starttls=1``), ``smtps://``.
The local mail catcher of `make run` is reached with plain ``smtp://127.0.0.1:1025``.
"""
import re
import smtplib
import ssl
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlparse

from ..core.hooks import apply_filters

TEMPORARY_CODES = {421, 450, 451, 452, 454}
MAILBOX_CODES = {550, 551, 553}
POLICY_STATUS_RE = re.compile(r"\s*5\.7\.\d+")


@dataclass
class SendResult:
    """What the server answered for one accepted message."""
    code: int
    reply: str


class DeliveryError(Exception):
    """A message was not accepted; ``code`` and ``reply`` are the server's answer."""

    temporary = False

    def __init__(self, code: int, reply: str):
        super().__init__(f"{code} {reply}")
        self.code, self.reply = code, reply

    @property
    def mailbox_rejected(self) -> bool:
        """True when the server rejected the recipient's mailbox (550/551/553 at RCPT or DATA,
        RFC 5321 section 4.2.2): a rejection, answered in the SMTP session, as opposed to a bounce
        (an RFC 3464 report that comes back later). The address can then be suppressed.

        An enhanced status of class 5.7 (relaying denied, policy, authentication; RFC 3463) is
        about the sender, not the mailbox: a misconfigured relay must not suppress the list.
        """
        return self.code in MAILBOX_CODES and not POLICY_STATUS_RE.match(self.reply or "")


class _NothingSent(Exception):
    """The connection failed before any of the message's content was sent."""


_DOT_RE = re.compile(rb"(?m)^\.")  # SMTP dot-stuffing


def dot_stuffed(data: bytes) -> bytes:
    """``data`` with a dot added before every line that starts with one (RFC 5321 4.5.2); the
    regular expression only runs when such a line exists."""
    if data.startswith(b".") or b"\n." in data:
        return _DOT_RE.sub(b"..", data)
    return data


class TemporaryFailure(DeliveryError):
    """4xx or a dropped connection: try again later."""

    temporary = True


class ReplyLost(TemporaryFailure):
    """The connection dropped or timed out after the message's final dot and before the server's
    reply: the server may have accepted it (RFC 5321 section 4.1.1.4 commits on the dot), so
    trying again could deliver it twice; callers record the outcome as unknown."""


class PermanentFailure(DeliveryError):
    """5xx: do not try again."""


def classify(code: int, reply) -> DeliveryError:
    """The right exception for an SMTP reply code."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return (TemporaryFailure if code < 500 else PermanentFailure)(code, text)


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


class SMTPTransport:
    """One reusable SMTP connection; reconnects when the server drops it."""

    confirms_before_data_end = True  # send() takes ``before_data_end`` (see there)

    def __init__(self, settings: SMTPSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            if s.implicit_tls:
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo_or_helo_if_needed()  # mail() does not greet by itself (sendmail() would)
            if s.username:
                smtp.login(s.username, s.password or "")
        except smtplib.SMTPResponseException as error:
            raise classify(error.smtp_code, error.smtp_error) from None
        except (OSError, smtplib.SMTPException) as error:
            raise TemporaryFailure(421, f"cannot connect to {s.host}:{s.port}: {error}") from None
        return smtp

    def send(self, message_bytes: bytes, envelope_from: str, recipient: str,
             before_data_end=None) -> SendResult:
        """Send one message to one recipient; raises TemporaryFailure or PermanentFailure.

        Uses PIPELINING (RFC 2920) when the server offers it: MAIL, RCPT and DATA go in one write,
        so a message costs two round trips instead of four. A reused connection that the server
        closed while idle is re-opened once, but only when the message content was not sent yet
        (so this can never send it twice). ``before_data_end()``, when given, is called once the
        server accepted DATA and before the content and its final dot: if it raises, the
        connection is dropped without the dot, so the server delivers nothing (RFC 5321 section
        4.1.1.4), and its exception propagates.
        """
        if "\r" in envelope_from + recipient or "\n" in envelope_from + recipient:
            raise PermanentFailure(501, "line breaks are not allowed in an address")
        if not (envelope_from + recipient).isascii():
            raise PermanentFailure(501, "non-ASCII addresses (SMTPUTF8) are not supported")
        reused = self._smtp is not None
        if not reused:
            self._smtp = self._connect()
        try:
            return self._transaction(message_bytes, envelope_from, recipient, before_data_end)
        except _NothingSent as error:
            self.close()
            if not reused:
                raise TemporaryFailure(421, f"connection lost: {error}") from None
        self._smtp = self._connect()
        try:
            return self._transaction(message_bytes, envelope_from, recipient, before_data_end)
        except _NothingSent as error:
            self.close()
            raise TemporaryFailure(421, f"connection lost: {error}") from None

    def _envelope(self, envelope_from, recipient) -> list:
        """Send MAIL, RCPT and DATA (pipelined when possible) and return their replies."""
        smtp = self._smtp
        if smtp.does_esmtp and smtp.has_extn("pipelining"):
            smtp.send(f"MAIL FROM:<{envelope_from}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n")
            return [smtp.getreply(), smtp.getreply(), smtp.getreply()]
        replies = [smtp.docmd("MAIL", f"FROM:<{envelope_from}>")]
        if replies[0][0] == 250:
            replies.append(smtp.docmd("RCPT", f"TO:<{recipient}>"))
            if replies[1][0] in (250, 251):
                replies.append(smtp.docmd("DATA"))
        return replies

    def _transaction(self, message_bytes, envelope_from, recipient, before_data_end=None) -> SendResult:
        smtp = self._smtp
        try:
            replies = self._envelope(envelope_from, recipient)
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            raise _NothingSent(error) from None
        mail, rcpt, data = (replies + [(0, b"")] * 3)[:3]
        refused = mail if mail[0] != 250 else rcpt if rcpt[0] not in (250, 251) else \
            data if data[0] != 354 else None
        dot_sent = False
        try:
            if refused is not None:
                if data[0] == 354:  # a server that accepted DATA anyway: end the empty message
                    smtp.send(b".\r\n")
                    smtp.getreply()
                smtp.rset()
                raise classify(*refused)
            if before_data_end is not None:
                self._before_data_end(before_data_end)
            smtp.send(dot_stuffed(message_bytes) + (b"" if message_bytes.endswith(b"\r\n") else b"\r\n")
                      + b".\r\n")
            dot_sent = True
            code, reply = smtp.getreply()
        except DeliveryError:
            raise
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            self.close()
            if dot_sent:
                raise ReplyLost(421, f"no reply after the message was sent: {error}") from None
            raise TemporaryFailure(421, f"connection lost: {error}") from None
        if code != 250:
            raise classify(code, reply)
        return SendResult(code, reply.decode(errors="replace"))

    def _before_data_end(self, callback) -> None:
        try:
            callback()
        except BaseException:
            self._smtp.close()  # no QUIT: inside DATA it would be read as the message's content
            self._smtp = None
            raise

    def close(self) -> None:
        """Close the connection (QUIT when possible)."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._smtp = None


def make_transport(url: str):
    """A transport for ``url``, through the ``mail_transports`` filter (scheme -> factory)."""

    factories = apply_filters("mail_transports", {"smtp": _smtp_factory, "smtps": _smtp_factory})
    scheme = urlparse(url).scheme
    if scheme not in factories:
        raise ValueError(f"no mail transport for {scheme!r} URLs (known: {', '.join(sorted(factories))})")
    return factories[scheme](url)


def _smtp_factory(url):
    return SMTPTransport(SMTPSettings.from_url(url))


class TransportPool:
    """A few open transports per URL, kept by one worker process between chunks.

    A transport idle for longer than ``max_idle`` seconds is closed first (servers drop idle
    clients); one that raised anything but a delivery error is dropped, never reused.
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
        if healthy and len(idle) < self.size:
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
