"""Mail transports: the SMTP client built from SMTP_URL, with failures classed temporary/permanent.

Transports are pluggable: the ``mail_transports`` filter maps a URL scheme to a factory, so a
plugin can add e.g. an HTTP API provider. Bundled: ``smtp://`` (``?starttls=1``), ``smtps://``.
The local mail catcher of `make run` is reached with plain ``smtp://127.0.0.1:1025``.
"""
import smtplib
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlparse

TEMPORARY_CODES = {421, 450, 451, 452, 454}
MAILBOX_CODES = {550, 551, 553}


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
    def hard_bounce(self) -> bool:
        """True when the reply says the mailbox does not exist or cannot take mail (550/551/553)."""
        return self.code in MAILBOX_CODES


class TemporaryFailure(DeliveryError):
    """4xx or a dropped connection: try again later."""

    temporary = True


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
            smtp.ehlo_or_helo_if_needed()  # mail() does not greet by itself
        except smtplib.SMTPResponseException as error:
            raise classify(error.smtp_code, error.smtp_error) from None
        except (OSError, smtplib.SMTPException) as error:
            raise TemporaryFailure(421, f"cannot connect to {s.host}:{s.port}: {error}") from None
        return smtp

    def send(self, message_bytes: bytes, envelope_from: str, recipient: str) -> SendResult:
        """Send one message to one recipient; raises TemporaryFailure or PermanentFailure."""
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        try:
            code, reply = smtp.mail(envelope_from)
            if code != 250:
                smtp.rset()
                raise classify(code, reply)
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                smtp.rset()
                raise classify(code, reply)
            code, reply = smtp.data(message_bytes)
            if code != 250:
                raise classify(code, reply)
            return SendResult(code, reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply))
        except DeliveryError:
            raise
        except (smtplib.SMTPServerDisconnected, OSError, socket.timeout) as error:
            self.close()
            raise TemporaryFailure(421, f"connection lost: {error}") from None
        except smtplib.SMTPResponseException as error:
            raise classify(error.smtp_code, error.smtp_error) from None

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
    from ..hooks import apply_filters

    factories = apply_filters("mail_transports", {"smtp": _smtp_factory, "smtps": _smtp_factory})
    scheme = urlparse(url).scheme
    if scheme not in factories:
        raise ValueError(f"no mail transport for {scheme!r} URLs (known: {', '.join(sorted(factories))})")
    return factories[scheme](url)


def _smtp_factory(url):
    return SMTPTransport(SMTPSettings.from_url(url))
