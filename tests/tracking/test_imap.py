"""`flask bounces fetch` against a real IMAP server (pymap, in-memory backend, started per test)."""
import imaplib
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.tracking.models import TrackingEvent
from app.tracking.services import suppression_for

USER, PASSWORD = "demouser", "demopass"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def imap_server():
    """A pymap IMAP server on a free loopback port, with its demo mailbox; yields the port."""
    port = _free_port()
    pymap = Path(sys.executable).with_name("pymap")
    process = subprocess.Popen([str(pymap), "--host", "127.0.0.1", "--port", str(port), "--no-tls",
                                "dict", "--demo-data"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                imaplib.IMAP4("127.0.0.1", port, timeout=1).logout()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("pymap did not start")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _inbox(port):
    imap = imaplib.IMAP4("127.0.0.1", port)
    imap.login(USER, PASSWORD)
    imap.select("INBOX")
    return imap


def _state(imap):
    """{uid: (flags, bytes)} of every message, read without setting \\Seen."""
    _, data = imap.uid("SEARCH", None, "ALL")
    state = {}
    for uid in data[0].split():
        _, parts = imap.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
        head, raw = next(p for p in parts if isinstance(p, tuple))
        flags = set(head.decode().split("FLAGS (", 1)[1].split(")", 1)[0].split()) - {"\\Recent"}
        state[uid] = (flags, raw)  # \Recent is per session, not a change anybody made
    return state


def test_fetch_over_imap(app, db, run, ledger, dsn, imap_server, runner):
    ledger.add(4247, run.id, "typo.name@gmail.com", "<run7.d4247.1763913980@herald.test>")
    imap = _inbox(imap_server)
    for name in ("gmail_hard.eml", "out_of_office.eml", "foreign_dsn.eml"):
        imap.append("INBOX", None, None, dsn(name).replace(b"\n", b"\r\n"))
    before = _state(imap)
    imap.logout()

    result = runner.invoke(args=["bounces", "fetch", f"imap://{USER}:{PASSWORD}@127.0.0.1:{imap_server}/INBOX"])
    assert result.exit_code == 0, result.output
    assert "1 bounce" in result.output and f"{len(before) - 1} unknown left untouched" in result.output
    assert suppression_for("typo.name@gmail.com").source == "dsn"
    assert db.session.scalar(select(TrackingEvent.run_id)) == run.id

    imap = _inbox(imap_server)
    after = _state(imap)
    imap.logout()
    gone = [uid for uid in before if uid not in after]
    assert len(gone) == 1 and b"typo.name@gmail.com" in before[gone[0]][1]
    assert after == {uid: before[uid] for uid in after}  # the rest: same bytes, same flags, unread


def test_imap_fetch_reads_the_head_of_a_huge_message_once(app, db, run, ledger, dsn, imap_server, runner):
    """Only the first MAX_READ_BYTES are fetched (a partial BODY.PEEK), and a message left in the
    folder is skipped by UID (with UIDVALIDITY) next time: not fetched nor parsed again."""
    from test_hostile_bounces import many_blocks, many_tokens

    from app.tracking.bounces import MAX_READ_BYTES
    imap = _inbox(imap_server)
    for raw in (many_tokens(60_000), many_blocks(2_000), dsn("out_of_office.eml")):
        imap.append("INBOX", None, None, raw.replace(b"\n", b"\r\n"))
    before = _state(imap)
    imap.logout()
    url = f"imap://{USER}:{PASSWORD}@127.0.0.1:{imap_server}/INBOX"
    result = runner.invoke(args=["bounces", "fetch", url])
    assert result.exit_code == 0, result.output
    assert f"only its first {MAX_READ_BYTES:,} read" in result.output
    assert "refused (more than 100 recipient blocks in one report)" in result.output
    assert f"{len(before)} messages read" in result.output, result.output
    again = runner.invoke(args=["bounces", "fetch", url])
    assert "0 messages read" in again.output and f"{len(before)} left by earlier fetches skipped" in again.output
    imap = _inbox(imap_server)
    assert _state(imap) == before  # same bytes, same flags, unread
    imap.logout()
