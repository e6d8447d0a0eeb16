"""Review F, item 1: bounces of SMTPUTF8 mail, whose reports write a non-ASCII address as raw UTF-8
(RFC 6532, 6533), crashed the parser (UnicodeEncodeError): `flask bounces fetch` left them
"unreadable" for 30 days, `flask bounces show` died with a traceback, so a genuine bounce for
ΟΔΥΣΣΕΥΣ@example.com never suppressed it even with a valid VERP token. Parts are read as bytes
and decoded as UTF-8; the recipient comes out as the Unicode address; a byte sequence that is no
UTF-8 never raises anything but a refusal saying why. Messages are generated here.
"""
import base64
import quopri
import random

import pytest

from app.mail.verp import ReturnPaths
from app.tracking.bounces import BounceRefused, parse_bounce
from app.tracking.mailboxes import process_message
from app.tracking.services import suppression_for

GREEK = "ΟΔΥΣΣΕΥΣ@example.com"


def return_path(app, delivery_id: int) -> str:
    return ReturnPaths("bounces.herald.test", "bounces", app.config["SECRET_KEY"])(delivery_id)


def report(recipient: bytes, *, to: str = "postmaster@herald.test", message_id: str = "<other@mx.example>",
           status_type: str = "message/delivery-status", address_type: bytes = b"rfc822",
           encoding: str = "", returned_type: str = "text/rfc822-headers", returned_to: bytes = b"x@example.com",
           extra: bytes = b"") -> bytes:
    """A DSN whose report part names ``recipient`` (bytes as written) in Final- and Original-Recipient."""
    status = (b"Reporting-MTA: dns; mx.example.net\n\n"
              b"Original-Recipient: " + address_type + b"; " + recipient + b"\n"
              b"Final-Recipient: " + address_type + b"; " + recipient + b"\n"
              b"Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 no such user" + extra + b"\n")
    if encoding == "base64":
        status = base64.encodebytes(status)
    elif encoding == "quoted-printable":
        status = quopri.encodestring(status)
    cte = f"Content-Transfer-Encoding: {encoding}\n".encode() if encoding else b""
    return (f"From: MAILER-DAEMON@mx.example.net\nTo: {to}\nSubject: Undelivered Mail Returned to Sender\n"
            "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"BB\"\n\n"
            "--BB\nContent-Type: text/plain; charset=utf-8\n\nYour message could not be delivered.\n\n"
            f"--BB\nContent-Type: {status_type}\n").encode() + cte + b"\n" + status + (
            f"\n--BB\nContent-Type: {returned_type}\n\nFrom: Herald <news@herald.test>\nTo: ").encode() + returned_to + (
            f"\nSubject: news\nMessage-ID: {message_id}\n\n--BB--\n").encode()


RAW = GREEK.encode()
XTEXT = ("".join(f"\\x{{{ord(c):X}}}" for c in "ΟΔΥΣΣΕΥΣ") + "@example.com").encode()  # \x{39F}...


@pytest.mark.parametrize("message", [
    report(RAW),  # raw UTF-8 in a message/delivery-status part (as Postfix writes SMTPUTF8 bounces)
    report(RAW, address_type=b"utf-8"),
    report(RAW, status_type="message/global-delivery-status", address_type=b"utf-8",
           returned_type="message/global-headers", returned_to=RAW),  # RFC 6533 as written
    report(RAW, status_type="message/global-delivery-status", encoding="quoted-printable", returned_to=RAW),
    report(RAW, status_type="message/global-delivery-status", encoding="base64", returned_to=RAW),
    report(XTEXT, address_type=b"utf-8"),  # RFC 6533 utf-8-addr-xtext in a plain delivery-status
    report(RAW, returned_type="message/global", returned_to=RAW),
], ids=["raw", "utf8-type", "global", "global-qp", "global-base64", "xtext", "message-global"])
def test_a_raw_utf8_recipient_is_read_as_its_unicode_address(app, message):
    parsed = parse_bounce(message)
    assert [(r.kind, r.bounce_type, r.recipient, r.status) for r in parsed.reports] == [
        ("bounce", "hard", GREEK, "5.1.1")]
    assert parsed.original_message_id == "<other@mx.example>"


def test_raw_utf8_only_in_the_returned_headers_or_the_envelope_is_read(app):
    parsed = parse_bounce(report(b"plain@example.com", returned_to=RAW, to=f"{GREEK}, <rp@b.test>"))
    assert [r.recipient for r in parsed.reports] == ["plain@example.com"]
    assert parsed.original_message_id == "<other@mx.example>"
    raw = report(b"plain@example.com").replace(b"Subject: Undelivered", "Subject: Αδύνατη παράδοση, Undelivered".encode())
    assert parse_bounce(raw).subject == "Αδύνατη παράδοση, Undelivered Mail Returned to Sender"


@pytest.mark.parametrize("recipient", [
    b"zo\xeb@example.com",  # Latin-1
    b"\x80\xbf@example.com",  # lone continuation bytes
    b"a\x00b@example.com",  # NUL
    b"\xc3\x28@example.com",  # a lead byte without its continuation
    b"\xc0\xaf@example.com",  # overlong
    b"\xed\xa0\x80@example.com",  # an encoded surrogate
    b"abc\xce",  # cut in the middle of a character
    b"\\x{D800}@example.com", b"\\x{110000}@example.com", b"\\x{0}@example.com",
])
def test_a_recipient_that_is_no_utf8_address_is_refused_saying_why(app, recipient):
    with pytest.raises(BounceRefused, match="a recipient address in the report is not UTF-8 text"):
        parse_bounce(report(recipient, address_type=b"utf-8"))


def test_bytes_that_are_no_utf8_outside_the_addresses_are_read_around(app):
    raw = report(RAW, extra=b" \xe9\xff\x00\x80", returned_to=b"\xe9t\xe9@example.com")
    raw = raw.replace(b"Subject: Undelivered", b"Subject: \xff\xfe Undelivered").replace(
        b"charset=utf-8", b"charset=idna")
    parsed = parse_bounce(raw)
    assert [(r.recipient, r.diagnostic) for r in parsed.reports] == [
        (GREEK, "550 5.1.1 no such user \ufffd\ufffd\x00\ufffd")]
    assert parsed.original_message_id == "<other@mx.example>"


def test_no_byte_sequence_raises_anything_but_a_refusal(app):
    """Random bytes written over a report (addresses, field names, boundaries, encodings): each
    message is read or refused, never an exception of another kind."""
    pieces = [b"\xce", b"\x9f", b"\xff", b"\x00", b"\xe9", b"\xc3\x28", b"\xf4\x90\x80\x80", b"\r", b"\n",
              b";", b"\\x{", b"}", b"=", b"=C3", "Σ".encode()]
    generator = random.Random(6533)
    bases = [report(RAW), report(RAW, status_type="message/global-delivery-status", encoding="base64"),
             report(RAW, encoding="quoted-printable", returned_type="message/global")]
    for _ in range(3000):
        data = bytearray(generator.choice(bases))
        for _ in range(generator.randint(1, 6)):
            at = generator.randrange(len(data))
            data[at:at + generator.randint(0, 3)] = generator.choice(pieces)
        try:
            parse_bounce(bytes(data))
        except BounceRefused:
            pass


def test_fetch_suppresses_a_non_ascii_recipient_by_verp_and_refuses_garbage(app, db, run, ledger, maildir, runner):
    ledger.add(7, run.id, GREEK, "<herald.x.7@herald.test>")
    ledger.add(8, run.id, "zoë@example.com", "<zoe-8@herald.test>")
    verp = maildir.add(report(RAW, to=return_path(app, 7), address_type=b"utf-8"))
    by_id = maildir.add(report("zoë@example.com".encode(), status_type="message/global-delivery-status",
                               returned_type="message/global-headers", message_id="<zoe-8@herald.test>"))
    garbage = maildir.add(report(b"zo\xeb@example.com", to=return_path(app, 8)))
    result = runner.invoke(args=["bounces", "fetch", str(maildir.path)])
    assert result.exit_code == 0 and result.exception is None, result.output
    assert "3 messages read: 2 bounce" in result.output, result.output
    assert (f"message {garbage}: refused (a recipient address in the report is not UTF-8 text: "
            "zo?@example.com); left in place") in result.output
    assert "unreadable" not in result.output and "Traceback" not in result.output
    assert set(maildir.keys()) == {garbage}
    assert (suppression_for(GREEK).reason, suppression_for(GREEK).source) == ("bounced", "dsn")
    assert suppression_for("zoë@example.com").reason == "bounced"
    assert suppression_for("οδυσσευσ@example.com") is None and suppression_for("ZOË@example.com") is None
    assert verp not in maildir.keys() and by_id not in maildir.keys()


def test_show_reads_a_utf8_report_and_refuses_garbage_in_a_line(app, db, runner, tmp_path):
    genuine, garbage = tmp_path / "genuine.eml", tmp_path / "garbage.eml"
    genuine.write_bytes(report(RAW, to=return_path(app, 7), status_type="message/global-delivery-status",
                               address_type=b"utf-8"))
    garbage.write_bytes(report(b"\x80\xbf@example.com", address_type=b"utf-8"))
    result = runner.invoke(args=["bounces", "show", str(genuine)])
    assert result.exit_code == 0, result.output
    assert f"bounce hard {GREEK}: 5.1.1 550 5.1.1 no such user" in result.output
    assert f"VERP token: {return_path(app, 7).split('+')[1].split('@')[0]}" in result.output
    result = runner.invoke(args=["bounces", "show", str(garbage)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "refused: a recipient address in the report is not UTF-8 text: ??@example.com" in result.output


def test_process_message_matches_a_utf8_complaint(app, db, run, ledger):
    """An RFC 5965 complaint whose returned message (message/global) names the recipient raw."""
    ledger.add(9, run.id, GREEK, "<herald-9@herald.test>")
    raw = (b"From: fbl@isp.example\nTo: fbl@herald.test\nSubject: Abuse report\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/report; report-type=feedback-report; boundary=\"A\"\n\n"
           b"--A\nContent-Type: text/plain\n\nreport\n--A\nContent-Type: message/feedback-report\n\n"
           b"Feedback-Type: abuse\nVersion: 1\n\n--A\nContent-Type: message/global\n\n"
           b"From: news@herald.test\nTo: " + RAW + b"\nMessage-ID: <herald-9@herald.test>\n\nbody\n--A--\n")
    assert [r.recipient for r in parse_bounce(raw).reports] == [GREEK]
    assert process_message(raw) == "complaint"
    assert suppression_for(GREEK).reason == "complained"
