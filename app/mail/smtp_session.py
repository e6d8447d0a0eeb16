"""One SMTP connection's mail transactions, pipelined across messages (RFC 2920), one outcome each."""
import re
import smtplib
from dataclasses import dataclass

from ..core.sockets import STALLED, kernel_timeouts, stalled
from .addresses import AddressError, is_plain, wire_address
from .mime import DotFree
from .outcomes import (
    DeliveryError,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
    local_result,
    reply_result,
    unknown_result,
)
from .smtp_replies import ReplyReader

_DOT_RE = re.compile(rb"(?m)^\.")  # SMTP dot-stuffing
_DOTTED_LINE_RE = re.compile(rb"\n\.")  # finds one in 2 µs for 6 KB, where `b"\n." in` takes 6
_RSET, _DATA, _QUIT, _END = b"RSET\r\n", b"DATA\r\n", b"QUIT\r\n", b".\r\n"
_CLOSING = 421  # "closing transmission channel" (RFC 5321 section 3.8): the session is over


def dot_stuffed(data: bytes) -> bytes:
    """``data`` with a dot added before every line that starts with one (RFC 5321 4.5.2); the
    substitution only runs when such a line exists, and the builder's ``DotFree`` bytes, which
    have none by construction, are not even searched."""
    if data.__class__ is DotFree:
        return data
    if data.startswith(b".") or _DOTTED_LINE_RE.search(data) is not None:
        return _DOT_RE.sub(b"..", data)
    return data


def _content(data: bytes) -> tuple[bytes, bytes]:
    """A message's content as sent after DATA's 354, in two pieces to join with the rest of the
    write: dot-stuffed, then its end, CRLF "." CRLF (RFC 5321 section 4.1.1.4)."""
    return dot_stuffed(data), (_END if data.endswith(b"\r\n") else b"\r\n" + _END)


@dataclass(slots=True)
class _Pending:
    """The message whose DATA was answered 354 and whose content goes with the next write."""
    key: object
    data: bytes


class _Lost(Exception):
    """The connection failed before the current message's content was sent; ``settled`` are the
    outcomes of earlier messages learned on the way (an unknown one among them, possibly)."""

    def __init__(self, settled: list, why, meanwhile=None):
        super().__init__(str(why))
        self.settled, self.why, self.meanwhile = settled, why, meanwhile


class SMTPSession:
    """Sends messages over one connection that ``_open()`` (a subclass's) returns as an smtplib
    object after its handshake. ``submit`` each message, ``flush`` at the end of a batch, then
    ``close`` (QUIT) or keep the session open for the next batch.

    With PIPELINING (RFC 2920) a message costs one write and one read: the write carries the
    previous message's content and ending dot, an RSET when the previous envelope was refused
    (RFC 5321 section 4.1.1.5), then this message's MAIL, RCPT and DATA (RFC 2920 section 3.1:
    content may open a group, DATA must close it); the read takes their replies. A message whose
    MAIL, RCPT or DATA is refused is never sent. Without PIPELINING each command waits for its
    reply (RFC 5321 section 3.3).
    """

    def __init__(self):
        self._smtp: smtplib.SMTP | None = None
        self._sock = self._reader = None
        self._pending: _Pending | None = None
        self._rset = False
        self._plain_sender = None  # the last envelope sender found plain (it seldom changes)
        self.pipelining = self.smtputf8 = self.eightbitmime = False

    def _open(self) -> smtplib.SMTP:
        raise NotImplementedError

    @property
    def idle(self) -> bool:
        """True when no message is in flight (nothing left for ``flush``)."""
        return self._pending is None

    def submit(self, key, data: bytes, sender: str, recipient: str, meanwhile=None) -> list[SendResult]:
        """Hand over one message (``data``: its bytes, CRLF line ends) from envelope ``sender`` to
        ``recipient`` (stored addresses; see ``addresses.wire_address``). Returns the outcomes known
        now: the previous message's (whose content this write carried) and this one's when it was
        refused before its content; otherwise this one's comes with the next ``submit`` or
        ``flush``. Every message handed over gets exactly one outcome, carrying its ``key``; one
        refused by Herald itself may come before the previous message's.

        ``meanwhile`` (a callable, or None) is called at most once, after the write and before its
        replies are read, so the caller's work (building the next message) overlaps the server's;
        it is not called without PIPELINING or when nothing was written. What it raises passes
        through, the replies unread (the caller then drops the connection).

        Refused without a word to the server (``local``): an address that is no address (501
        5.1.3), a non-ASCII local part when the server does not offer SMTPUTF8 (553 5.6.7, RFC 6531
        section 3.5). A connection that fails before this message's content was sent is opened
        again once (a reused one only); a second failure is a temporary 421.
        """
        if (sender is self._plain_sender or is_plain(sender)) and is_plain(recipient):
            mail_from = rcpt_to = None  # nearly always: no conversion to make
            utf8, self._plain_sender = False, sender
        else:
            try:
                mail_from, rcpt_to = wire_address(sender), wire_address(recipient)
            except AddressError as error:
                return [local_result(key, PermanentFailure(501, f"5.1.3 {error}", local=True))]
            sender, recipient = mail_from.envelope, rcpt_to.envelope
            utf8 = mail_from.smtputf8 or rcpt_to.smtputf8
        # Bytes past ASCII are a header in UTF-8 (RFC 6532: the builder writes bodies as
        # quoted-printable and names as encoded-words), e.g. a Reply-To with a non-ASCII local
        # part: the message needs SMTPUTF8 even when its envelope is ASCII (RFC 6531 section 3.4)
        utf8 = utf8 or not data.isascii()
        settled: list[SendResult] = []
        for attempt in (1, 2):
            reused = self._smtp is not None
            if not reused:
                try:
                    self._connect()
                except DeliveryError as error:
                    return settled + [local_result(key, error)]
            if utf8 and not self.smtputf8:
                needs = (f"non-ASCII address {mail_from.header}" if mail_from and mail_from.smtputf8
                         else f"non-ASCII address {rcpt_to.header}" if rcpt_to and rcpt_to.smtputf8
                         else "message's header in UTF-8 (RFC 6532)")
                return settled + [local_result(key, PermanentFailure(
                    553, f"5.6.7 the SMTP server does not offer SMTPUTF8 (RFC 6531), which the {needs} needs",
                    local=True))]
            commands = self._commands(sender, recipient, utf8)
            try:
                if self.pipelining:
                    return settled + self._pipelined(key, data, commands, meanwhile)
                return settled + self._lockstep(key, data, commands)
            except _Lost as lost:
                settled += lost.settled
                meanwhile = lost.meanwhile and meanwhile  # at most once
                self._drop()
                if not reused or attempt == 2:
                    return settled + [local_result(key, TemporaryFailure(
                        421, f"4.4.2 connection lost before the message was sent: {lost.why}",
                        local=True))]
        raise AssertionError("unreachable")

    def flush(self) -> list[SendResult]:
        """Send the content of the message still in flight and return its outcome ([] if none)."""
        pending, self._pending = self._pending, None
        if pending is None:
            return []
        try:
            self._write(b"".join(_content(pending.data)))
            code, text = self._reader.reply()
        except OSError as error:
            self._drop()
            return [unknown_result(pending.key, error)]
        if code == _CLOSING:
            self._drop()
        return [reply_result(pending.key, code, text)]

    def abandon(self):
        """Close the connection without sending the content of the message in flight; its key
        (None when none was). A mail transaction ends only with the end-of-data line (RFC 5321
        section 4.1.1.4), so the server discards this one: the message was not sent. For a stop
        (pause, cancel) that must not let one more message out at a slow server."""
        pending = self._pending
        self._drop()
        return pending.key if pending is not None else None

    def close(self) -> None:
        """QUIT and close the connection. A message still in flight is abandoned unsent (its
        content never went out; the server drops the unfinished transaction), so ``flush`` first."""
        if self._smtp is not None and self._pending is None:
            try:
                self._write(_QUIT)
                self._reader.reply()
            except OSError:
                pass
        self._drop()

    # -- the connection -------------------------------------------------------------------
    def _connect(self) -> None:
        smtp = self._open()
        kernel_timeouts(smtp.sock)  # no poll before each send and recv
        self._smtp, self._sock, self._reader = smtp, smtp.sock, ReplyReader(smtp.sock)
        features = smtp.esmtp_features if smtp.does_esmtp else {}
        self.pipelining = "pipelining" in features
        self.smtputf8 = "smtputf8" in features
        self.eightbitmime = "8bitmime" in features

    def _write(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except STALLED as error:  # the kernel's send timeout (kernel_timeouts)
            raise stalled(error) from None

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        self._sock = self._reader = self._pending = None
        self._rset = False
        if smtp is not None:
            try:
                smtp.close()
            except OSError:
                pass

    def _commands(self, mail_from: str, rcpt_to: str, utf8: bool) -> tuple[bytes, bytes]:
        if not utf8:
            return f"MAIL FROM:<{mail_from}>\r\n".encode("ascii"), f"RCPT TO:<{rcpt_to}>\r\n".encode("ascii")
        body = " BODY=8BITMIME" if self.eightbitmime else ""  # RFC 6531 section 3.4, RFC 6152
        return (f"MAIL FROM:<{mail_from}> SMTPUTF8{body}\r\n".encode(),
                f"RCPT TO:<{rcpt_to}>\r\n".encode())

    def _envelope_replies(self, settled: list, count: int) -> list:
        replies = []
        for _ in range(count):
            code, text = self._reader.reply()
            if code == _CLOSING:  # the server is going away: this message is not refused, retry it
                raise _Lost(settled, f"{code} {text}")
            replies.append((code, text))
        return replies

    # -- one transaction ------------------------------------------------------------------
    def _pipelined(self, key, data: bytes, commands: tuple[bytes, bytes], meanwhile=None) -> list[SendResult]:
        pending, self._pending = self._pending, None
        rset, self._rset = self._rset, False
        replies: list = []
        try:
            self._write(b"".join((*(_content(pending.data) if pending else ()),
                                         _RSET if rset else b"", *commands, _DATA)))
        except OSError as error:
            raise self._lost(pending, replies, error, meanwhile) from None
        if meanwhile is not None:
            meanwhile()
        try:
            self._reader.replies((pending is not None) + rset + 3, replies)
        except OSError as error:
            raise self._lost(pending, replies, error) from None
        settled = [reply_result(pending.key, *replies[0])] if pending is not None else []
        replies = replies[pending is not None:]  # RSET's (when sent), MAIL's, RCPT's, DATA's
        for code, text in replies:
            if code == _CLOSING:  # the server is going away: this message is not refused, retry it
                raise _Lost(settled, f"{code} {text}")
        replies = replies[rset:]
        (mail, _), (rcpt, _), (data_code, _) = replies
        if mail // 100 == 2 and rcpt // 100 == 2 and data_code == 354:
            self._pending = _Pending(key, data)
            return settled
        self._rset = True
        refused = replies[0] if mail // 100 != 2 else replies[1] if rcpt // 100 != 2 else replies[2]
        if data_code == 354:  # DATA accepted without a recipient: end an empty message, never this one
            try:
                self._write(b".\r\n")
                self._reader.reply()
            except OSError:
                self._drop()
        settled.append(reply_result(key, *refused))
        return settled

    @staticmethod
    def _lost(pending, replies: list, error: OSError, meanwhile=None) -> "_Lost":
        """The failure of a pipelined write or read: the outcome learned of the message whose
        content it carried (``pending``); ``meanwhile`` when it was not called."""
        if pending is None:
            settled = []
        elif not replies:  # its content went out (or may have), its reply never came
            settled = [unknown_result(pending.key, error)]
        else:
            settled = [reply_result(pending.key, *replies[0])]
        return _Lost(settled, error, meanwhile)

    def _lockstep(self, key, data: bytes, commands: tuple[bytes, bytes]) -> list[SendResult]:
        try:
            if self._rset:
                self._write(_RSET)
                self._envelope_replies([], 1)
                self._rset = False
            for command, expected in zip((*commands, _DATA), (2, 2, 3)):
                self._write(command)
                (code, text), = self._envelope_replies([], 1)
                if code // 100 != expected:
                    self._rset = True
                    return [reply_result(key, code, text)]
        except OSError as error:
            raise _Lost([], error) from None
        self._pending = _Pending(key, data)
        return self.flush()
