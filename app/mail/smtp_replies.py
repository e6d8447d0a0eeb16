"""SMTP replies read straight from the socket (RFC 5321 section 4.2), without smtplib's file object."""
import re
import socket

from ..core.inputs import escape_controls
from ..core.sockets import STALLED, stalled

# Replies of one line each, as nearly every group of a pipelined message gets them, their text
# printable ASCII (RFC 5321 section 4.2 allows a tab too): any other byte (a tab, UTF-8 of RFC
# 6531, a control) goes through ``_take``, which writes controls, tabs included, visibly
_ONE_LINE_REPLIES = re.compile(rb"(?:[0-9]{3} [\x20-\x7e]*\r\n)+")
MAX_BUFFERED = 64 * 1024  # bytes of replies without a complete one: not an SMTP server
RECV_SIZE = 65536


class ConnectionLost(OSError):
    """The server closed the connection (or the socket failed) before a reply was complete."""


class ProtocolError(ConnectionLost):
    """The server sent something that is not an SMTP reply (RFC 5321 section 4.2)."""


class ReplyReader:
    """Reads SMTP replies from ``sock`` (a plain or TLS socket, with its timeout set).

    One ``recv`` usually holds every reply of a pipelined group (RFC 2920 section 3.1), so the
    four replies of a message cost one system call and one split; smtplib's ``getreply`` reads
    through a file object line by line.

    ``reply()`` returns ``(code, text)``: the three-digit code and the text after it, the lines of
    a multiline reply (``250-...`` then ``250 ...``, RFC 5321 section 4.2.1) joined by newlines,
    decoded as UTF-8 (RFC 6531 servers may reply in UTF-8; anything else is replaced), control
    characters written visibly (``inputs.escape_controls``: a NUL from a broken server would fail
    the ledger's write on PostgreSQL, an escape sequence an admin's terminal). Raises
    ConnectionLost when the connection ends first, ProtocolError on a malformed line, and the
    socket's own OSError (e.g. ``socket.timeout``) otherwise.
    """

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._buffer = b""

    def reply(self) -> tuple[int, str]:
        """The next reply (waiting for it)."""
        return self.replies(1)[0]

    def replies(self, count: int, into: list | None = None) -> list[tuple[int, str]]:
        """The next ``count`` replies, appended in order to ``into`` (a new list by default) as
        they are read, so that after an error ``into`` holds those that did arrive."""
        into = [] if into is None else into
        wanted = len(into) + count
        while True:
            while (lines := self._buffer.count(b"\n")) < wanted - len(into):  # a line at least each
                self._fill()
            if lines == wanted - len(into) and _ONE_LINE_REPLIES.fullmatch(self._buffer):
                for line in self._buffer.split(b"\r\n")[:-1]:  # exactly the replies awaited
                    into.append((int(line[:3]), line[4:].decode("utf-8", "replace")))
                self._buffer = b""
                return into
            if self._take(into, wanted):
                return into
            self._fill()  # the rest of a multiline reply

    def _fill(self) -> None:
        try:
            chunk = self._sock.recv(RECV_SIZE)
        except STALLED as error:  # the kernel's receive timeout (app.core.sockets)
            raise stalled(error) from None
        if not chunk:
            raise ConnectionLost("the server closed the connection")
        self._buffer += chunk
        if len(self._buffer) > MAX_BUFFERED:
            raise ProtocolError(f"more than {MAX_BUFFERED} bytes without a complete SMTP reply")

    def _take(self, into: list, wanted: int) -> bool:
        """Move whole replies from the buffer to ``into`` until it holds ``wanted``; False when
        the buffer ran out first (the rest of a multiline reply is still on its way)."""
        lines = self._buffer.split(b"\n")
        texts, used = [], 0
        for line in lines[:-1]:  # the last piece has no line end yet
            used += 1
            if line[-1:] == b"\r":
                line = line[:-1]
            code, separator = line[:3], line[3:4]
            if len(code) != 3 or not code.isdigit() or separator not in (b" ", b"-", b""):
                raise ProtocolError(f"not an SMTP reply: {line[:80]!r}")
            if separator == b"-":
                texts.append(line[4:])
                continue
            if texts:
                texts.append(line[4:])
                text, texts = b"\n".join(texts), []
            else:
                text = line[4:]
            into.append((int(code), escape_controls(text.decode("utf-8", "replace"), keep_newlines=True)))
            if len(into) == wanted:
                break
        self._buffer = b"\n".join(lines[used - len(texts):]) if used < len(lines) - 1 or texts \
            else lines[-1]
        return len(into) == wanted
