"""What became of one message handed to a transport: the server's reply, classed, or why none came."""
import re
from dataclasses import dataclass

from ..core.inputs import escape_controls

MAILBOX_CODES = {550, 551, 553}
POLICY_STATUS_RE = re.compile(r"\s*5\.7\.\d+")
SENT, TEMPORARY, PERMANENT, UNKNOWN = "sent", "temporary", "permanent", "unknown"


class DeliveryError(Exception):
    """A message was not accepted; ``code`` and ``reply`` are the server's answer, or Herald's
    reason when ``local`` (refused before anything was sent, e.g. an address the server cannot
    take; then ``code`` is the reply a server would give, in the same class)."""

    temporary = False

    def __init__(self, code: int, reply: str, local: bool = False):
        super().__init__(f"{code} {reply}")
        self.code, self.reply, self.local = code, reply, local

    @property
    def mailbox_rejected(self) -> bool:
        """True when the server rejected the recipient's mailbox (550/551/553 at RCPT or DATA,
        RFC 5321 section 4.2.2): a rejection, answered in the SMTP session, as opposed to a bounce
        (an RFC 3464 report that comes back later). The address can then be suppressed.

        An enhanced status of class 5.7 (relaying denied, policy, authentication; RFC 3463) is
        about the sender, not the mailbox: a misconfigured relay must not suppress the list. Nor
        does Herald's own refusal (``local``) say anything about the mailbox.
        """
        return (not self.local and self.code in MAILBOX_CODES
                and not POLICY_STATUS_RE.match(self.reply or ""))


class TemporaryFailure(DeliveryError):
    """4xx or a dropped connection before the content was sent: try again later."""

    temporary = True


class PermanentFailure(DeliveryError):
    """5xx: do not try again."""


class UnknownOutcome(TemporaryFailure):
    """The connection failed after the content was sent, before its reply (``SendResult`` status
    ``unknown``). Raised by ``SMTPTransport.send`` for callers that only know sent or not sent;
    it is a TemporaryFailure so that they retry, as they did before outcomes could be unknown."""


def classify(code: int, reply) -> DeliveryError:
    """The right exception for an SMTP reply code (4xx temporary, anything else permanent)."""
    text = escape_controls(reply.decode(errors="replace") if isinstance(reply, bytes) else reply,
                           keep_newlines=True)
    return (TemporaryFailure if 400 <= code < 500 else PermanentFailure)(code, text)


@dataclass(slots=True)  # not frozen: made once per message, frozen's __init__ costs 1 µs more
class SendResult:
    """The outcome of one message.

    ``status``: "sent" (accepted: a 2xx reply to the end of the content, RFC 5321 section 4.1.1.4),
    "temporary" (4xx, or the connection failed before any of the content was sent), "permanent"
    (5xx, or refused by Herald before sending: ``local``) or "unknown" (see the module docstring).
    ``code`` and ``reply`` are the reply that decided it, exactly as the server sent it (``reply``
    is the text after the code, a multiline reply's lines joined by newlines); for ``local`` and
    unknown outcomes they are Herald's (``code`` None when unknown). ``key`` is the caller's, from
    ``submit``.
    """
    code: int | None
    reply: str
    status: str = SENT
    key: object = None
    local: bool = False

    @property
    def accepted(self) -> bool:
        """True when the server took the message."""
        return self.status == SENT

    @property
    def error(self) -> DeliveryError | None:
        """The failure as an exception (UnknownOutcome when unknown), None when accepted."""
        if self.status == SENT:
            return None
        if self.status == UNKNOWN:
            return UnknownOutcome(421, self.reply, local=True)
        kind = TemporaryFailure if self.status == TEMPORARY else PermanentFailure
        return kind(self.code, self.reply, self.local)


def reply_result(key, code: int, text: str) -> SendResult:
    """The outcome decided by the server's reply ``code``/``text`` to a message."""
    status = SENT if 200 <= code < 300 else TEMPORARY if 400 <= code < 500 else PERMANENT
    return SendResult(code, text, status, key)


def local_result(key, error: DeliveryError) -> SendResult:
    """The outcome of a message that ``error`` stopped before or instead of the server."""
    return SendResult(error.code, error.reply, TEMPORARY if error.temporary else PERMANENT, key,
                      error.local)


def unknown_result(key, why) -> SendResult:
    """The outcome of a message whose content was sent but whose reply never came."""
    return SendResult(None, f"outcome unknown: the connection failed after the message was sent, "
                            f"before the server's reply ({why})", UNKNOWN, key, True)
