"""The SMTP transport against a real server: pipelined and plain transactions, refusals, and a
connection the server dropped while idle."""
import pytest

from app.mail.transport import (
    PermanentFailure,
    SMTPSettings,
    SMTPTransport,
    TemporaryFailure,
    TransportPool,
)

MESSAGE = b"Subject: t\r\n\r\n.leading dot\r\nbody\r\n"


@pytest.mark.parametrize("pipelining", [True, False])
def test_transactions_with_and_without_pipelining(smtp_sink, pipelining):
    smtp_sink.pipelining = pipelining
    smtp_sink.cues = {"no@example.com": ["550 5.1.1 No such user"], "busy@example.com": ["451 4.3.0 Busy"]}
    transport = SMTPTransport(SMTPSettings.from_url(f"smtp://127.0.0.1:{smtp_sink.port}"))
    assert transport.send(MESSAGE, "from@example.com", "a@example.com").code == 250
    assert transport._smtp.has_extn("pipelining") is pipelining
    with pytest.raises(PermanentFailure) as refused:
        transport.send(MESSAGE, "from@example.com", "no@example.com")
    assert refused.value.code == 550 and refused.value.mailbox_rejected
    with pytest.raises(TemporaryFailure) as busy:
        transport.send(MESSAGE, "from@example.com", "busy@example.com")
    assert busy.value.code == 451
    assert transport.send(MESSAGE, "from@example.com", "b@example.com").code == 250  # same connection
    transport.close()
    assert [m.rcpt_tos for m in smtp_sink.messages] == [["a@example.com"], ["b@example.com"]]
    assert b"\r\n.leading dot\r\n" in smtp_sink.messages[0].data  # dot-stuffing undone by the server


def test_dropped_idle_connection_is_reopened_without_duplicates(smtp_sink):
    transport = SMTPTransport(SMTPSettings.from_url(f"smtp://127.0.0.1:{smtp_sink.port}"))
    transport.send(MESSAGE, "from@example.com", "first@example.com")
    transport._smtp.sock.close()  # as if the server had hung up while we were idle
    transport.send(MESSAGE, "from@example.com", "second@example.com")
    assert smtp_sink.recipients() == ["first@example.com", "second@example.com"]


def test_unreachable_server_and_bad_addresses(smtp_sink):
    down = SMTPTransport(SMTPSettings.from_url("smtp://127.0.0.1:9"))
    with pytest.raises(TemporaryFailure) as error:
        down.send(MESSAGE, "from@example.com", "x@example.com")
    assert error.value.code == 421
    transport = SMTPTransport(SMTPSettings.from_url(f"smtp://127.0.0.1:{smtp_sink.port}"))
    for bad in ("x@example.com\r\nRCPT TO:<y@example.com>", "jörg@example.com"):
        with pytest.raises(PermanentFailure) as refused:
            transport.send(MESSAGE, "from@example.com", bad)
        assert refused.value.code == 501 and not refused.value.mailbox_rejected
    assert smtp_sink.messages == []


def test_pool_reuses_connections_and_drops_idle_ones(smtp_sink, app):
    url = f"smtp://127.0.0.1:{smtp_sink.port}"
    pool = TransportPool(size=1, max_idle=60)
    first = pool.acquire(url)
    first.send(MESSAGE, "from@example.com", "p@example.com")
    pool.release(url, first)
    assert pool.acquire(url) is first
    pool.release(url, first)
    pool.max_idle = 0
    assert pool.acquire(url) is not first and first._smtp is None  # closed as stale


def test_dot_stuffing_only_where_a_line_starts_with_a_dot():
    from app.mail.transport import dot_stuffed

    assert dot_stuffed(b".a\r\nb.\r\n.c\r\n") == b"..a\r\nb.\r\n..c\r\n"
    plain = b"Subject: x\r\n\r\nno dots. at line starts\r\n"
    assert dot_stuffed(plain) is plain
