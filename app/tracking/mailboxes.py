"""``flask bounces fetch``: read the bounce mailbox (IMAP or Maildir) and act on what is ours.

A message is processed when it is a DSN or complaint report matched to a delivery (by VERP token
or original Message-ID), or a mailto: unsubscribe request with a valid token. Processed messages
are deleted (or, with ``keep``, flagged as seen and skipped next time); every other message is
left untouched: not deleted, not flagged, not even marked as read (IMAP ``BODY.PEEK``).
Results are committed before a message is deleted, and DSNs are recorded under a fingerprint,
so a crash in between never counts a bounce twice.
"""
import imaplib
import logging
import mailbox
import re
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..core.extensions import db
from ..mail.tokens import read_token
from .bounces import parse_bounce
from .ledger import find_delivery
from .services import record_bounce, record_complaint, unsubscribe

log = logging.getLogger(__name__)

UNSUBSCRIBE_SUBJECT_RE = re.compile(r"^\s*unsubscribe\s+(\S+)\s*$", re.IGNORECASE)


class MaildirSource:
    """A Maildir folder as a bounce source."""

    def __init__(self, path: str):
        if not all((Path(path) / sub).is_dir() for sub in ("cur", "new", "tmp")):
            raise ValueError(f"{path} is not a Maildir (it needs cur/, new/ and tmp/)")
        self.box = mailbox.Maildir(path, factory=None, create=False)

    def messages(self, skip_seen: bool):
        """Yield ``(key, raw bytes)`` for each message (unseen ones only when ``skip_seen``)."""
        for key in list(self.box.keys()):
            if skip_seen and "S" in self.box.get_message(key).get_flags():
                continue
            yield key, self.box.get_bytes(key)

    def processed(self, key, keep: bool) -> None:
        """Delete a processed message, or flag it seen when ``keep``."""
        if keep:
            message = self.box.get_message(key)
            message.set_subdir("cur")
            message.add_flag("S")
            self.box[key] = message
        else:
            self.box.discard(key)

    def close(self) -> None:
        """Nothing to close for a Maildir."""


class ImapSource:
    """One folder of an IMAP mailbox: ``imaps://user:pass@host[:port]/INBOX`` (or ``imap://``,
    with ``?starttls=1`` for STARTTLS)."""

    def __init__(self, url: str):
        parsed = urlparse(url)
        secure = parsed.scheme == "imaps"
        port = parsed.port or (993 if secure else 143)
        try:
            self.imap = (imaplib.IMAP4_SSL if secure else imaplib.IMAP4)(parsed.hostname, port, timeout=30)
            if not secure and "starttls=1" in parsed.query:
                self.imap.starttls()
            self.imap.login(unquote(parsed.username or ""), unquote(parsed.password or ""))
            status, _ = self.imap.select(unquote(parsed.path.lstrip("/")) or "INBOX")
        except (OSError, imaplib.IMAP4.error) as error:
            raise ValueError(f"cannot open {parsed.scheme}://{parsed.hostname}:{port}: {error}") from None
        if status != "OK":
            raise ValueError(f"cannot select folder {parsed.path!r}")
        self.deleted = False

    def messages(self, skip_seen: bool):
        """Yield ``(uid, raw bytes)`` without setting the \\Seen flag."""
        _, data = self.imap.uid("SEARCH", None, "UNSEEN" if skip_seen else "ALL")
        for uid in (data[0] or b"").split():
            _, parts = self.imap.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((p[1] for p in parts if isinstance(p, tuple)), None)
            if raw is not None:
                yield uid, raw

    def processed(self, uid, keep: bool) -> None:
        """Flag a processed message \\Deleted (expunged on close), or \\Seen when ``keep``."""
        self.imap.uid("STORE", uid, "+FLAGS", r"(\Seen)" if keep else r"(\Deleted)")
        self.deleted = self.deleted or not keep

    def close(self) -> None:
        """Expunge what was deleted and log out."""
        try:
            if self.deleted:
                self.imap.expunge()
            self.imap.logout()
        except (OSError, imaplib.IMAP4.error):
            pass


def open_mailbox(url: str):
    """A source for ``url``: imap(s)://..., maildir:/path or a plain path to a Maildir."""
    if url.startswith(("imap://", "imaps://")):
        return ImapSource(url)
    return MaildirSource(url[len("maildir:"):] if url.startswith("maildir:") else url)


def process_message(raw: bytes) -> str:
    """Act on one message; its outcome: bounce, complaint, delay, unsubscribe or unknown."""
    parsed = parse_bounce(raw)
    if not parsed.reports:
        match = UNSUBSCRIBE_SUBJECT_RE.match(" ".join(parsed.subject.split()))
        payload = read_token("unsubscribe", match.group(1)) if match else None
        if isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], str):
            unsubscribe(payload[0], payload[1] if isinstance(payload[1], int) else None, "mailto")
            return "unsubscribe"
        return "unknown"
    delivery = (find_delivery(verp_token=parsed.verp_token) if parsed.verp_token else None) \
        or find_delivery(message_id=parsed.original_message_id)
    if delivery is None:
        return "unknown"
    reports = sorted(parsed.reports, key=lambda r: ("complaint", "bounce", "delay").index(r.kind))
    report = next((r for r in reports if r.bounce_type == "hard"), reports[0]) \
        if reports[0].kind == "bounce" else reports[0]
    key = f"dsn:{parsed.fingerprint}"
    if report.kind == "complaint":
        record_complaint(delivery.email, "dsn", report.detail, delivery=delivery, event_key=key)
    elif report.kind == "bounce":
        record_bounce(delivery.email, report.bounce_type, "dsn", report.detail, delivery=delivery,
                      event_key=key)
    return report.kind


def fetch_bounces(url: str, keep: bool = False, limit: int | None = None, commit=None) -> Counter:
    """Process up to ``limit`` messages of the mailbox at ``url``; counts by outcome.

    ``commit`` (the caller's, e.g. the CLI's ``db.session.commit``) is called after each message,
    before the message is deleted or flagged, so a crash never loses a report: it is read again.
    """
    source = open_mailbox(url)
    counts = Counter()
    try:
        for key, raw in source.messages(skip_seen=keep):
            if limit is not None and sum(counts.values()) >= limit:
                break
            try:
                outcome = process_message(raw)
            except Exception:  # noqa: BLE001 - one unreadable message must not stop the others
                log.exception("bounce mailbox: message %s could not be read; left in place", key)
                db.session.rollback()
                counts["unreadable"] += 1
                continue
            if commit is not None:
                commit()
            counts[outcome] += 1
            if outcome != "unknown":
                source.processed(key, keep)
    finally:
        source.close()
    return counts
