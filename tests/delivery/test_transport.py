"""The SMTP transport against a real server: pipelined and plain transactions, refusals, a
connection the server dropped while idle, internationalised addresses, TLS and AUTH."""
import ssl
import subprocess

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from app.mail.transport import (
    PermanentFailure,
    SendResult,
    SMTPSettings,
    SMTPTransport,
    TemporaryFailure,
    TransportPool,
    make_transport,
)

from app.testing.smtp import free_port

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
    assert error.value.code == 421 and error.value.local
    transport = SMTPTransport(SMTPSettings.from_url(f"smtp://127.0.0.1:{smtp_sink.port}"))
    for bad in ("x@example.com\r\nRCPT TO:<y@example.com>", "x y@example.com", "no-at-sign"):
        with pytest.raises(PermanentFailure) as refused:
            transport.send(MESSAGE, "from@example.com", bad)
        assert refused.value.code == 501 and refused.value.reply.startswith("5.1.3 ")
        assert refused.value.local and not refused.value.mailbox_rejected
    assert smtp_sink.messages == []


def test_internationalised_addresses_go_out_as_idna_or_with_smtputf8(smtp_sink):
    """An IDN domain is sent as A-labels (an ASCII transaction); a non-ASCII local part with
    SMTPUTF8 when the server offers it (RFC 6531), else it alone is refused, locally."""
    transport = SMTPTransport(SMTPSettings.from_url(f"smtp://127.0.0.1:{smtp_sink.port}"))
    assert transport.send(MESSAGE, "from@example.com", "anna@bücher.example").code == 250
    assert transport.send(MESSAGE, "from@example.com", "jörg@bücher.example").code == 250
    transport.close()
    assert [m.rcpt_tos for m in smtp_sink.messages] == [["anna@xn--bcher-kva.example"],
                                                        ["jörg@xn--bcher-kva.example"]]
    smtp_sink.smtputf8 = False
    transport = SMTPTransport(SMTPSettings.from_url(f"smtp://127.0.0.1:{smtp_sink.port}"))
    with pytest.raises(PermanentFailure) as refused:
        transport.send(MESSAGE, "from@example.com", "jörg@bücher.example")
    assert refused.value.code == 553 and "SMTPUTF8" in refused.value.reply and refused.value.local
    assert not refused.value.mailbox_rejected  # the address is fine: it is not suppressed
    assert transport.send(MESSAGE, "from@example.com", "anna@bücher.example").code == 250
    assert len(smtp_sink.messages) == 3


def test_a_header_in_utf8_goes_out_with_smtputf8_even_to_an_ascii_envelope(smtp_sink):
    """A Reply-To with a non-ASCII local part is a header in UTF-8 (RFC 6532): the transaction
    says SMTPUTF8 though both envelope addresses are ASCII (RFC 6531 section 3.4); a server
    without it gets no such message (refused locally, naming the header), others still go."""
    message = "Reply-To: 用户@例子.广告\r\nSubject: t\r\n\r\nbody\r\n".encode()
    transport = SMTPTransport(SMTPSettings.from_url(f"smtp://127.0.0.1:{smtp_sink.port}"))
    assert transport.send(message, "from@example.com", "anna@example.com").code == 250
    assert transport.send(MESSAGE, "from@example.com", "anna@example.com").code == 250
    transport.close()
    assert ["SMTPUTF8" in m.mail_options for m in smtp_sink.messages] == [True, False]
    smtp_sink.smtputf8 = False
    transport = SMTPTransport(SMTPSettings.from_url(f"smtp://127.0.0.1:{smtp_sink.port}"))
    with pytest.raises(PermanentFailure) as refused:
        transport.send(message, "from@example.com", "anna@example.com")
    assert refused.value.code == 553 and "header in UTF-8" in refused.value.reply and refused.value.local
    assert transport.send(MESSAGE, "from@example.com", "anna@example.com").code == 250
    transport.close()
    assert len(smtp_sink.messages) == 3


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


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (openssl), trusted by the client through
    SSL_CERT_FILE, which ssl.create_default_context() reads."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def _authenticator(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=(auth_data.login, auth_data.password) == (b"herald", b"s3cret"))


@pytest.mark.parametrize("scheme", ["starttls", "smtps"])
def test_tls_and_auth_then_pipelined_messages(smtp_sink, certificate, monkeypatch, scheme):
    """STARTTLS (port 587 style) and implicit TLS (smtps://), with AUTH: smtplib opens the
    session, then the messages are pipelined on the TLS socket."""
    cert, key = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    port = free_port()
    tls = ({"tls_context": context, "require_starttls": True} if scheme == "starttls"
           else {"ssl_context": context, "auth_require_tls": False})  # aiosmtpd: AUTH over implicit TLS
    controller = Controller(smtp_sink, hostname="127.0.0.1", port=port, authenticator=_authenticator,
                            auth_required=True, **tls)
    controller.start()
    try:
        url = (f"smtp://herald:s3cret@127.0.0.1:{port}?starttls=1" if scheme == "starttls"
               else f"smtps://herald:s3cret@127.0.0.1:{port}")
        transport = SMTPTransport(SMTPSettings.from_url(url))
        results = []
        for n in range(3):
            results += transport.submit(n, MESSAGE, "from@example.com", f"tls{n}@example.com")
        results += transport.flush()
        assert [(r.key, r.code) for r in results] == [(0, 250), (1, 250), (2, 250)], results
        assert isinstance(transport._smtp.sock, ssl.SSLSocket)
        transport.close()
    finally:
        controller.stop()
    assert smtp_sink.recipients() == ["tls0@example.com", "tls1@example.com", "tls2@example.com"]


def test_a_plugin_transport_with_only_send_still_serves_the_send_loop(app):
    """``mail_transports`` factories written for the one-message API are wrapped (OneAtATime)."""
    class Memory:
        sent = []

        def send(self, message_bytes, envelope_from, recipient):
            if recipient.startswith("no@"):
                raise PermanentFailure(550, "5.1.1 no such user")
            self.sent.append(recipient)
            return SendResult(250, "2.0.0 kept")

        def close(self):
            pass
    app.extensions["herald_hooks"].add("mail_transports",
                                       lambda factories: {**factories, "memory": lambda url: Memory()})
    transport = make_transport("memory://")
    results = transport.submit(1, MESSAGE, "from@example.com", "a@example.com") \
        + transport.submit(2, MESSAGE, "from@example.com", "no@example.com") + transport.flush()
    assert [(r.key, r.status, r.code) for r in results] == [(1, "sent", 250), (2, "permanent", 550)]
    assert Memory.sent == ["a@example.com"] and transport.idle
