"""``flask bounces fetch``: read the bounce mailbox (IMAP or Maildir) and act on what is ours.

A message is processed when it is a DSN or complaint report matched to a delivery (by VERP token
or original Message-ID), or a mailto: unsubscribe request with a valid token. Processed messages
are deleted (or, with ``keep``, flagged as seen and skipped next time); every other message is
left untouched: not deleted, not flagged, not even marked as read (IMAP ``BODY.PEEK``).
Results are committed before a message is deleted, and DSNs are recorded under a fingerprint,
so a crash in between never counts a bounce twice.

Work per message is bounded: only its first ``bounces.MAX_READ_BYTES`` are fetched (IMAP partial
``BODY.PEEK[]<0.n>``) or read, and the parser refuses what is past its limits. A message left in
the mailbox (unknown, refused, unreadable) is remembered in Redis for ``REMEMBER_DAYS`` by its
Maildir key or IMAP UID (with the folder's UIDVALIDITY) and skipped by later fetches, so one
hostile or foreign message is read once, not on every run (``recheck`` reads them again).
"""
import hashlib
import imaplib
import logging
import mailbox
import os
import re
import time
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlparse

from redis.exceptions import RedisError

from ..core.extensions import db, redis_store
from ..core.utils import without_credentials
from ..mail.tokens import read_token
from .bounces import MAX_READ_BYTES, BounceRefused, parse_bounce
from .ledger import find_delivery
from .services import record_bounce, record_complaint, unsubscribe

log = logging.getLogger(__name__)

UNSUBSCRIBE_SUBJECT_RE = re.compile(r"^\s*unsubscribe\s+(\S+)\s*$", re.IGNORECASE)
IMAP_SIZE_RE = re.compile(rb"RFC822\.SIZE (\d+)")
REMEMBER_DAYS = 30  # how long a message left in the mailbox is skipped by later fetches
LEFT_OUTCOMES = ("unknown", "refused", "unreadable")  # outcomes that leave a message in place


class MaildirSource:
    """A Maildir folder as a bounce source."""

    def __init__(self, path: str):
        if not all((Path(path) / sub).is_dir() for sub in ("cur", "new", "tmp")):
            raise ValueError(f"{path} is not a Maildir (it needs cur/, new/ and tmp/)")
        self.box = mailbox.Maildir(path, factory=None, create=False)
        self.path, self.skipped = Path(path), 0
        self.identity = f"maildir:{self.path.resolve()}"

    def _seen(self) -> set:
        """Keys of the messages flagged seen (from their file names: no message is parsed)."""
        seen = set()
        for name in os.listdir(self.path / "cur"):
            key, _, info = name.partition(self.box.colon)
            if info.startswith("2,") and "S" in info[2:]:
                seen.add(key)
        return seen

    def messages(self, skip_seen: bool, skip=frozenset()):
        """Yield ``(key, first MAX_READ_BYTES bytes, size)`` for each message (unseen ones only
        when ``skip_seen``; none whose key is in ``skip``)."""
        seen = self._seen() if skip_seen else set()
        for key in list(self.box.keys()):
            if key in seen:
                continue
            if key in skip:
                self.skipped += 1
                continue
            try:
                with self.box.get_file(key) as file:
                    head = file.read(MAX_READ_BYTES)
                    file.seek(0, os.SEEK_END)
                    size = file.tell()
            except KeyError:  # gone meanwhile (another reader)
                continue
            yield key, head, size

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
        self.deleted, self.skipped = False, 0
        validity = (self.imap.response("UIDVALIDITY")[1] or [b""])[0] or b""
        self.identity = (f"imap:{parsed.username or ''}@{parsed.hostname}:{port}/{parsed.path.lstrip('/')}"
                         f";uidvalidity={validity.decode('ascii', 'replace')}")

    def messages(self, skip_seen: bool, skip=frozenset()):
        """Yield ``(uid, first MAX_READ_BYTES bytes, size)`` without setting the \\Seen flag
        (none whose uid is in ``skip``: those are not fetched at all)."""
        _, data = self.imap.uid("SEARCH", None, "UNSEEN" if skip_seen else "ALL")
        for uid in (data[0] or b"").split():
            if uid.decode() in skip:
                self.skipped += 1
                continue
            _, parts = self.imap.uid("FETCH", uid, f"(RFC822.SIZE BODY.PEEK[]<0.{MAX_READ_BYTES}>)")
            part = next((p for p in parts if isinstance(p, tuple)), None)
            if part is not None:
                size = IMAP_SIZE_RE.search(b" ".join(p if isinstance(p, bytes) else p[0] for p in parts))
                yield uid.decode(), part[1], int(size.group(1)) if size else len(part[1])

    def processed(self, uid, keep: bool) -> None:
        """Flag a processed message \\Deleted (expunged on close), or \\Seen when ``keep``."""
        self.imap.uid("STORE", str(uid), "+FLAGS", r"(\Seen)" if keep else r"(\Deleted)")
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


def process_message(raw: bytes, why: list | None = None) -> str:
    """Act on one message; its outcome: bounce, complaint, delay, unsubscribe, unknown, or
    refused (past a limit of the parser; the reason is appended to ``why``)."""
    try:
        parsed = parse_bounce(raw)
    except BounceRefused as refusal:
        if why is not None:
            why.append(str(refusal))
        return "refused"
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


class LeftMessages:
    """The messages of one mailbox that fetches left in place, remembered in Redis (a sorted set
    of keys scored by when) for REMEMBER_DAYS. Without Redis the fetch goes on, reading them all
    (logged): remembering saves work, it decides nothing."""

    def __init__(self, identity: str):
        self.key = redis_store.key("bounces", "left", hashlib.sha256(identity.encode()).hexdigest()[:24])

    def keys(self) -> set:
        """The keys remembered (older ones forgotten first)."""
        try:
            client = redis_store.client
            client.zremrangebyscore(self.key, "-inf", time.time() - REMEMBER_DAYS * 86400)
            return {member.decode() for member in client.zrange(self.key, 0, -1)}
        except RedisError as error:
            log.warning("bounce mailbox: Redis unavailable (%s): every message is read", error)
            return set()

    def remember(self, message_key: str) -> None:
        """Skip ``message_key`` in later fetches."""
        try:
            with redis_store.client.pipeline() as pipe:
                pipe.zadd(self.key, {message_key: time.time()}).expire(self.key, REMEMBER_DAYS * 86400)
                pipe.execute()
        except RedisError as error:
            log.warning("bounce mailbox: message %s not remembered (%s)", message_key, error)

    def forget(self) -> None:
        """Read every message again (``flask bounces fetch --recheck``)."""
        redis_store.client.delete(self.key)


def fetch_bounces(url: str, keep: bool = False, limit: int | None = None, commit=None,
                  recheck: bool = False, notes: list | None = None) -> Counter:
    """Process up to ``limit`` messages of the mailbox at ``url``; counts by outcome.

    ``commit`` (the caller's, e.g. the CLI's ``db.session.commit``) is called after each message,
    before the message is deleted or flagged, so a crash never loses a report: it is read again.
    Messages an earlier fetch left in place are skipped (counted as ``skipped``) unless
    ``recheck``; a line for each refused, cut or unreadable message goes to ``notes`` and the log.
    """
    source = open_mailbox(url)
    counts = Counter()
    notes = notes if notes is not None else []
    left = LeftMessages(source.identity)
    if recheck:
        left.forget()
    skip = left.keys()
    try:
        for key, raw, size in source.messages(skip_seen=keep, skip=skip):
            if limit is not None and sum(counts.values()) >= limit:
                break
            key = str(key)
            if size > len(raw):
                note = (f"message {key}: {size:,} bytes, only its first {len(raw):,} read")
                log.info("bounce mailbox %s: %s", without_credentials(url), note)
                notes.append(note)
            why = []
            try:
                outcome = process_message(raw, why)
            except Exception:  # noqa: BLE001 - one unreadable message must not stop the others
                log.exception("bounce mailbox: message %s could not be read; left in place", key)
                db.session.rollback()
                outcome = "unreadable"
                notes.append(f"message {key}: unreadable (see the log); left in place")
            if outcome == "refused":
                note = f"message {key}: refused ({why[0]}); left in place"
                log.warning("bounce mailbox %s: %s", without_credentials(url), note)
                notes.append(note)
            if commit is not None and outcome != "unreadable":
                commit()
            counts[outcome] += 1
            if outcome in LEFT_OUTCOMES:
                left.remember(key)
            else:
                source.processed(key, keep)
    finally:
        source.close()
    counts["skipped"] = source.skipped
    return counts
