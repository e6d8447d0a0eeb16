"""The transport pipelines across messages (RFC 2920 section 3.1) against a scripted real server:
one write per message, each message's own outcome with the server's exact reply, refused
envelopes reset and never followed by their content, lost connections reported as unknown."""
import pytest

from app.mail.transport import SMTPSettings, SMTPTransport

SENDER = "bounces@example.org"


def message(n: int) -> bytes:
    return f"Subject: message {n}\r\n\r\n.dot-stuffed line\r\nbody of message {n}\r\n".encode()


def send_all(transport, recipients) -> dict:
    """Submit one message per recipient, flush, and return {recipient: SendResult}."""
    results = []
    for n, recipient in enumerate(recipients, 1):
        results += transport.submit(recipient, message(n), SENDER, recipient)
    results += transport.flush()
    assert sorted(r.key for r in results) == sorted(recipients)  # exactly one outcome each
    return {r.key: r for r in results}


SCRIPT = {"rcpt": {"gone@example.com": "550 5.1.1 <gone@example.com>: Recipient address rejected",
                   "busy@example.com": "451 4.3.0 Temporary lookup failure"},
          "data_end": {3: "554 5.7.1 Message rejected as spam"}}
RECIPIENTS = ["a@example.com", "gone@example.com", "b@example.com", "busy@example.com",
              "c@example.com", "d@example.com"]


@pytest.mark.parametrize("pipelining", [True, False])
def test_each_message_gets_the_servers_exact_reply(scripted_smtp, pipelining):
    scripted_smtp.pipelining = pipelining
    scripted_smtp.rcpt, scripted_smtp.data_end = SCRIPT["rcpt"], SCRIPT["data_end"]
    transport = SMTPTransport(SMTPSettings.from_url(scripted_smtp.url))
    results = send_all(transport, RECIPIENTS)
    outcome = {key: (r.status, r.code, r.reply) for key, r in results.items()}
    assert outcome == {
        "a@example.com": ("sent", 250, "2.0.0 Ok: queued"),
        "gone@example.com": ("permanent", 550, "5.1.1 <gone@example.com>: Recipient address rejected"),
        "b@example.com": ("sent", 250, "2.0.0 Ok: queued"),
        "busy@example.com": ("temporary", 451, "4.3.0 Temporary lookup failure"),
        "c@example.com": ("permanent", 554, "5.7.1 Message rejected as spam"),
        "d@example.com": ("sent", 250, "2.0.0 Ok: queued"),
    }
    assert results["gone@example.com"].error.mailbox_rejected
    assert not results["c@example.com"].error.mailbox_rejected  # 5.7.x: policy, not the mailbox
    # A refused envelope is reset and its content never sent; every other message arrives once.
    assert [m.rcpt_tos for m in scripted_smtp.received] == [["a@example.com"], ["b@example.com"],
                                                            ["c@example.com"], ["d@example.com"]]
    assert scripted_smtp.received[0].data.endswith(b"\r\n.dot-stuffed line\r\nbody of message 1\r\n")
    assert scripted_smtp.commands.count("RSET") == 2
    assert transport.idle
    transport.close()
    assert scripted_smtp.commands[-1] == "QUIT" and scripted_smtp.connections == 1
    writes = len(scripted_smtp.reads) - 2  # EHLO and QUIT
    if pipelining:  # the end of one message goes with the next envelope: one write per message
        assert writes <= len(RECIPIENTS) + 1
    else:  # one command at a time: MAIL, RCPT, DATA, content
        assert writes >= 3 * len(RECIPIENTS)


def test_connection_lost_after_the_content_is_unknown_never_sent(scripted_smtp):
    """The server hangs up after reading message 2's content, before answering it: message 2 may
    have been delivered (unknown); message 3, whose envelope went in the same write, had no
    content sent, so it is sent again on a new connection."""
    scripted_smtp.data_end = {2: None}
    transport = SMTPTransport(SMTPSettings.from_url(scripted_smtp.url))
    results = send_all(transport, ["one@example.com", "two@example.com", "three@example.com"])
    assert {k: r.status for k, r in results.items()} == {
        "one@example.com": "sent", "two@example.com": "unknown", "three@example.com": "sent"}
    assert results["two@example.com"].code is None
    assert results["two@example.com"].reply.startswith("outcome unknown: ")
    assert scripted_smtp.connections == 2
    assert [m.rcpt_tos for m in scripted_smtp.received] == [
        ["one@example.com"], ["two@example.com"], ["three@example.com"]]


def test_connection_lost_at_the_last_message_is_unknown(scripted_smtp):
    scripted_smtp.data_end = {1: None}
    transport = SMTPTransport(SMTPSettings.from_url(scripted_smtp.url))
    results = send_all(transport, ["only@example.com"])
    assert results["only@example.com"].status == "unknown" and transport.idle


@pytest.mark.parametrize("pipelining", [True, False])
def test_a_server_that_stops_answering_times_out_as_the_url_says(scripted_smtp, pipelining):
    """The timeouts live in the kernel (app.core.sockets), not in Python: a reply that never comes
    still ends the wait, as a lost connection (message 2 unknown), and the next message goes out
    on a new connection."""
    scripted_smtp.pipelining, scripted_smtp.data_end = pipelining, {2: "stall"}
    transport = SMTPTransport(SMTPSettings.from_url(scripted_smtp.url + "?timeout=0.3"))
    results = send_all(transport, ["one@example.com", "two@example.com", "three@example.com"])
    assert {k: r.status for k, r in results.items()} == {
        "one@example.com": "sent", "two@example.com": "unknown", "three@example.com": "sent"}
    assert "timed out" in results["two@example.com"].reply
    assert scripted_smtp.connections == 2
    assert transport._sock.gettimeout() is None  # blocking: no poll before each call
    transport.close()


def test_a_server_that_answers_data_without_recipients_gets_an_empty_message(scripted_smtp):
    scripted_smtp.data_without_rcpt = True
    scripted_smtp.rcpt = {"gone@example.com": "550 5.1.1 No such user"}
    transport = SMTPTransport(SMTPSettings.from_url(scripted_smtp.url))
    results = send_all(transport, ["gone@example.com", "next@example.com"])
    assert results["gone@example.com"].code == 550 and results["next@example.com"].accepted
    assert [(m.rcpt_tos, m.data) for m in scripted_smtp.received] == [
        ([], b""), (["next@example.com"], scripted_smtp.received[1].data)]
    assert b"message 1" not in b"".join(chunk for _, chunk in scripted_smtp.reads)


def test_a_refused_sender_is_reset_before_the_next_message(scripted_smtp):
    scripted_smtp.mail = {"blocked@example.org": "553 5.7.1 Sender address rejected"}
    transport = SMTPTransport(SMTPSettings.from_url(scripted_smtp.url))
    first = transport.submit(1, message(1), "blocked@example.org", "x@example.com")
    second = transport.submit(2, message(2), SENDER, "y@example.com") + transport.flush()
    assert [(r.key, r.code) for r in first + second] == [(1, 553), (2, 250)]
    assert not first[0].error.mailbox_rejected
    assert [m.mail_from for m in scripted_smtp.received] == [SENDER]


def test_a_server_closing_an_idle_connection_is_reopened_once(scripted_smtp):
    transport = SMTPTransport(SMTPSettings.from_url(scripted_smtp.url))
    assert transport.send(message(1), SENDER, "one@example.com").code == 250
    scripted_smtp.mail = {SENDER: "421 4.4.2 Idle for too long, closing"}
    results = transport.submit("two", message(2), SENDER, "two@example.com")
    assert results[0].status == "temporary" and results[0].code == 421  # reopened, still 421
    scripted_smtp.mail = {}
    assert transport.send(message(3), SENDER, "three@example.com").code == 250
    assert scripted_smtp.connections == 3


def test_multiline_replies_are_read_whole(scripted_smtp):
    scripted_smtp.data_end = {1: "250-2.0.0 Ok: queued as 4F2\r\n250 2.0.0 see you"}
    transport = SMTPTransport(SMTPSettings.from_url(scripted_smtp.url))
    result = transport.send(message(1).rstrip(b"\r\n"), SENDER, "one@example.com")  # no last CRLF
    assert (result.code, result.reply) == (250, "2.0.0 Ok: queued as 4F2\n2.0.0 see you")
    assert scripted_smtp.received[0].data.endswith(b"body of message 1\r\n")


@pytest.mark.parametrize("pipelining", [True, False])
def test_control_characters_in_replies_come_out_visible(scripted_smtp, pipelining):
    """A broken or hostile server's NUL would fail the ledger's write on PostgreSQL (the whole
    batch's outcomes) and its escape sequences would reach an admin's terminal."""
    scripted_smtp.pipelining = pipelining
    scripted_smtp.rcpt = {"gone@example.com": "550 5.1.1 no\x00such \x1b[2J user"}
    scripted_smtp.data_end = {1: "250-2.0.0 Ok\x00\r\n250 2.0.0 queued \x7f\u202e as 4F2 \u00e9t\u00e9\tend"}
    transport = SMTPTransport(SMTPSettings.from_url(scripted_smtp.url))
    results = send_all(transport, ["a@example.com", "gone@example.com"])
    assert results["a@example.com"].reply == "2.0.0 Ok\\x00\n2.0.0 queued \\x7f\\u202e as 4F2 \u00e9t\u00e9\\x09end"
    assert (results["gone@example.com"].status, results["gone@example.com"].reply) == (
        "permanent", "5.1.1 no\\x00such \\x1b[2J user")
    transport.close()


@pytest.mark.parametrize("offered", [True, False])
def test_smtputf8_is_asked_for_only_by_messages_that_need_it(scripted_smtp, offered):
    scripted_smtp.smtputf8 = offered
    transport = SMTPTransport(SMTPSettings.from_url(scripted_smtp.url))
    results = send_all(transport, ["ascii@bücher.example", "jörg@example.com", "plain@example.com"])
    mails = [c for c in scripted_smtp.commands if c.startswith(("MAIL", "RCPT"))]
    if offered:
        assert mails == [f"MAIL FROM:<{SENDER}>", "RCPT TO:<ascii@xn--bcher-kva.example>",
                         f"MAIL FROM:<{SENDER}> SMTPUTF8 BODY=8BITMIME", "RCPT TO:<jörg@example.com>",
                         f"MAIL FROM:<{SENDER}>", "RCPT TO:<plain@example.com>"]
        assert all(r.accepted for r in results.values())
    else:
        assert "RCPT TO:<jörg@example.com>" not in mails and len(scripted_smtp.received) == 2
        refused = results["jörg@example.com"]
        assert (refused.status, refused.code, refused.local) == ("permanent", 553, True)
        assert refused.reply.startswith("5.6.7 the SMTP server does not offer SMTPUTF8")


def test_replies_split_across_reads_and_multiline_replies_are_parsed(scripted_smtp):
    """ReplyReader on a real socket pair: a reply arriving in pieces, several in one read."""
    import socket

    from app.mail.smtp_replies import ProtocolError, ReplyReader

    client, server = socket.socketpair()
    reader = ReplyReader(client)
    server.sendall(b"250-first\r\n250-sec")
    server.sendall(b"ond\r\n250 third\r\n354 go ahead\r\n250 2.0.0 Ok\r\n")
    assert reader.replies(2) == [(250, "first\nsecond\nthird"), (354, "go ahead")]
    assert reader.reply() == (250, "2.0.0 Ok")
    server.sendall(b"hello\r\n")
    with pytest.raises(ProtocolError):
        reader.reply()
    client.close()
    server.close()
