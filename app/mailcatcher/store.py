"""Caught mail kept in a Maildir: the SMTP handler that writes it and the reader the pages use."""
import mailbox
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path


class MaildirHandler:
    """aiosmtpd handler: every message accepted is stored in ``directory`` (a Maildir)."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        self.maildir = mailbox.Maildir(str(self.directory), create=True)
        for sub in ("tmp", "new", "cur"):
            (self.directory / sub).mkdir(exist_ok=True)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        """Store the message with its envelope recipients and answer 250."""
        header = (f"X-Herald-Envelope-From: {envelope.mail_from}\r\n"
                  f"X-Herald-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n").encode()
        self.maildir.add(header + envelope.original_content)
        return "250 Message accepted for delivery"


@dataclass
class CaughtMessage:
    """A caught message, parsed."""
    key: str
    message: object

    @property
    def subject(self):
        """The Subject header."""
        return self.message["subject"] or "(no subject)"

    @property
    def to(self):
        """The envelope recipients."""
        return self.message["x-herald-envelope-to"] or self.message["to"]

    @property
    def date(self):
        """The Date header."""
        return self.message["date"]

    def body(self, subtype):
        """The text/``subtype`` part, decoded, or ''."""
        part = self.message.get_body(preferencelist=(subtype,))
        return part.get_content() if part is not None else ""


def read_messages(directory, limit=200) -> list[CaughtMessage]:
    """The newest ``limit`` caught messages, newest first."""
    path = Path(directory)
    if not path.exists():
        return []
    box = mailbox.Maildir(str(path), factory=None, create=False)
    parser = BytesParser(policy=policy.default)
    entries = []
    for key in box.keys():
        file = path / ("new" if (path / "new" / key).exists() else "cur") / key
        mtime = file.stat().st_mtime if file.exists() else 0
        entries.append((mtime, key))
    entries.sort(reverse=True)
    return [CaughtMessage(key, parser.parsebytes(box.get_bytes(key))) for _, key in entries[:limit]]


def read_message(directory, key) -> CaughtMessage | None:
    """One caught message by its Maildir key, or None (also when nothing was caught yet)."""
    if not Path(directory).exists():
        return None
    box = mailbox.Maildir(str(directory), factory=None, create=False)
    try:
        raw = box.get_bytes(key)
    except KeyError:
        return None
    return CaughtMessage(key, BytesParser(policy=policy.default).parsebytes(raw))


def count(directory) -> int:
    """How many messages are caught."""
    path = Path(directory)
    return len(mailbox.Maildir(str(path), factory=None, create=False)) if path.exists() else 0


def clear(directory) -> None:
    """Delete every caught message."""
    box = mailbox.Maildir(str(directory), create=True)
    for key in list(box.keys()):
        box.discard(key)
