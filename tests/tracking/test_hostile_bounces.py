"""Review E: hostile bounces cost bounded work and memory, and one left in the mailbox is read once.

A 60 KB DSN with one long field took 51 s (the e-mail package's header folding, when the report
part was re-serialised), a 4 MB one with 100,000 fake VERP tokens never finished, a 15 MB one with
200,000 recipient blocks took 82 s and 578 MB; an unmatched message stays in the mailbox, so each
fetch paid again. The messages are generated here; the time limits are loose (a loaded machine).
"""
import mailbox
import signal
import tracemalloc
from contextlib import contextmanager

import pytest

from app.tracking.bounces import MAX_BLOCKS, MAX_PARTS, MAX_READ_BYTES, BounceRefused, parse_bounce
from app.tracking.services import suppression_for

HEAD = ("From: MAILER-DAEMON@mx.example.net\nTo: rp@bounces.herald.test\nSubject: Undelivered\n"
        "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"BB\"\n\n"
        "--BB\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n")


def folded_junk(words: int) -> bytes:
    """One recipient block with a field of ``words`` short words (re-serialising folds it)."""
    return (HEAD + "Final-Recipient: rfc822; a@b.example\nAction: failed\nStatus: 5.1.1\nX-Junk: "
            + " ".join(["ab"] * words) + "\n--BB--\n").encode()


def many_tokens(count: int) -> bytes:
    """A field of ``count`` fake VERP tokens (each would cost a signature check)."""
    tokens = " ".join(f"rp+d{i}-0123456789ab@bounces.herald.test" for i in range(count))
    return (HEAD + f"Final-Recipient: rfc822; a@b.example\nAction: failed\nStatus: 5.1.1\n"
            f"X-Tokens: {tokens}\n--BB--\n").encode()


def many_blocks(count: int) -> bytes:
    blocks = "".join(f"Final-Recipient: rfc822; r{i}@b.example\nAction: failed\nStatus: 5.1.1\n\n"
                     for i in range(count))
    return (HEAD + blocks + "--BB--\n").encode()


def many_parts(count: int) -> bytes:
    return (b"From: x@example.com\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n"
            + b"--B\n\nx\n" * count + b"--B--\n")


@contextmanager
def within(seconds: float):
    """Fail (instead of hanging for minutes) when the block takes longer than ``seconds``."""
    def expired(*_):
        raise TimeoutError(f"took more than {seconds} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_long_folded_field_is_read_in_linear_time():
    raw = folded_junk(40_000)  # 117 KB: 184 s before
    with within(10):
        parsed = parse_bounce(raw)
    assert [(r.kind, r.bounce_type, r.recipient) for r in parsed.reports] == [("bounce", "hard", "a@b.example")]


def test_only_the_head_of_a_huge_message_is_read_and_tokens_looked_at_are_capped():
    raw = many_tokens(100_000)  # about 4 MB: never finished before
    assert len(raw) > 4 * MAX_READ_BYTES
    with within(10):
        parsed = parse_bounce(raw)
    assert parsed.truncated == len(raw) and parsed.reports[0].recipient == "a@b.example"


def test_too_many_recipient_blocks_or_parts_are_refused_with_little_memory():
    blocks, parts = many_blocks(200_000), many_parts(60_000)  # 15 MB: 82 s and 578 MB before
    tracemalloc.start()
    try:
        with within(10), pytest.raises(BounceRefused, match=f"more than {MAX_BLOCKS - 1} recipient blocks"):
            parse_bounce(blocks)
        with within(10), pytest.raises(BounceRefused, match=f"more than {MAX_PARTS} MIME parts"):
            parse_bounce(parts)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024, peak  # a few times MAX_READ_BYTES
    assert parse_bounce(many_blocks(MAX_BLOCKS - 1)).reports  # up to the limit: read


def test_fetch_reads_a_hostile_message_once_says_what_it_refused_and_rechecks_on_demand(
        app, db, run, ledger, runner, tmp_path):
    box = mailbox.Maildir(str(tmp_path / "box"), create=True)
    box.add(many_blocks(5_000))
    box.add(folded_junk(40_000))
    with within(20):
        result = runner.invoke(args=["bounces", "fetch", str(tmp_path / "box")])
    assert result.exit_code == 0, result.output
    assert "refused (more than 100 recipient blocks in one report); left in place" in result.output
    assert "2 messages read: nothing matched; 1 unknown left untouched (1 refused also left)" in result.output
    assert len(box) == 2
    again = runner.invoke(args=["bounces", "fetch", str(tmp_path / "box")])
    assert "0 messages read" in again.output and "2 left by earlier fetches skipped" in again.output, again.output
    box.add(folded_junk(10))  # a new message is read
    again = runner.invoke(args=["bounces", "fetch", str(tmp_path / "box")])
    assert "1 messages read" in again.output and "2 left by earlier fetches skipped" in again.output, again.output
    again = runner.invoke(args=["bounces", "fetch", "--recheck", str(tmp_path / "box")])
    assert "3 messages read" in again.output and "1 refused" in again.output, again.output
    assert suppression_for("a@b.example") is None and len(box) == 3


def test_show_says_what_it_refused(app, runner, tmp_path):
    path = tmp_path / "h.eml"
    path.write_bytes(many_blocks(1_000))
    result = runner.invoke(args=["bounces", "show", str(path)])
    assert result.exit_code != 0 and "refused: more than 100 recipient blocks" in result.output
    path.write_bytes(many_tokens(100_000))
    result = runner.invoke(args=["bounces", "show", str(path)])
    assert result.exit_code == 0 and f"only the first {MAX_READ_BYTES:,} read" in result.output


def test_without_redis_the_fetch_reads_every_message(app, db, run, ledger, runner, tmp_path, monkeypatch):
    import redis
    monkeypatch.setitem(app.extensions, "herald_redis",
                        redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5))
    box = mailbox.Maildir(str(tmp_path / "box"), create=True)
    box.add(folded_junk(10))
    for _ in range(2):
        result = runner.invoke(args=["bounces", "fetch", str(tmp_path / "box")])
        assert result.exit_code == 0 and "1 messages read" in result.output, result.output
