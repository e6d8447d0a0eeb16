"""VERP as docs/bounces.md says (issue 13): each broadcast message's envelope sender is its
delivery's signed return path when RETURN_PATH_DOMAIN is set, and a bounce is matched by it first,
then by Message-ID; MAIL_FROM's address is the envelope sender when it is not set."""
import pytest
from sqlalchemy import select

from app import ConfigError, create_app
from app.broadcasts.mail import BroadcastMessages, recipient_of
from app.delivery.models import Delivery
from app.mail.verp import MAX_PREFIX, ReturnPaths, delivery_id_from_token
from app.tracking.mailboxes import process_message
from app.tracking.models import TrackingEvent
from app.tracking.services import suppression_for

from .conftest import add_customers, make_run

DSN = """From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: {to}
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Your message could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{original_recipient}
Action: failed
Status: {status}
Diagnostic-Code: smtp; {status_code} {status} no

--b1
Content-Type: text/rfc822-headers

Return-Path: <{return_path}>
From: Herald Network <noreply@herald.test>
To: {recipient}
Subject: Hello
Message-ID: {message_id}

--b1--
"""


def dsn(to="bounces@herald.test", recipient="x@example.com", original_recipient=None,
        return_path="noreply@herald.test", message_id="<none@herald.test>", status="5.1.1") -> bytes:
    return DSN.format(to=to, recipient=recipient, original_recipient=original_recipient or recipient,
                      return_path=return_path, message_id=message_id, status=status,
                      status_code=status[0] + "50").replace("\n", "\r\n").encode()


@pytest.fixture
def app_config():
    return {"DELIVERY_CHUNK_SIZE": 20, "DELIVERY_BATCH_SIZE": 5, "DELIVERY_LEASE_SECONDS": 2,
            "DELIVERY_JOB_SECONDS": 60, "MAIL_FROM": "Herald Network <noreply@herald.test>",
            "RETURN_PATH_DOMAIN": "Bounces.Herald.TEST", "RETURN_PATH_PREFIX": "rp"}


def _rows(db, run_id):
    db.session.expire_all()
    return {d.email: d for d in db.session.scalars(select(Delivery).where(Delivery.run_id == run_id))}


def test_each_message_has_its_return_path_and_bounces_match_it_first(app, db, smtp_sink, product, jobs):
    add_customers([("ann@example.com", "Ann"), ("bob@example.com", "Bob"), ("cy@example.com", "Cy")], product)
    run = make_run(products=[product])
    jobs.start(run)
    rows = _rows(db, run.id)
    by_recipient = {m.rcpt_tos[0]: m for m in smtp_sink.messages}
    for email, row in rows.items():
        sender = by_recipient[email].mail_from
        local, _, domain = sender.partition("@")
        assert domain == "bounces.herald.test" and local.startswith(f"rp+d{row.id}-") and len(local) <= 64
        assert delivery_id_from_token(local.split("+", 1)[1]) == row.id
        assert by_recipient[email].message["From"] == "Herald Network <noreply@herald.test>"

    # The bounce went to Ann's return path but quotes Bob's Message-ID: the return path wins.
    ann, bob = rows["ann@example.com"], rows["bob@example.com"]
    assert process_message(dsn(to=by_recipient["ann@example.com"].mail_from, recipient="ann@example.com",
                               message_id=bob.message_id)) == "bounce"
    assert suppression_for("ann@example.com").source == "dsn" and suppression_for("bob@example.com") is None
    # Only the returned headers' Return-Path holds the token (a relay rewrote the envelope).
    assert process_message(dsn(return_path=by_recipient["cy@example.com"].mail_from,
                               recipient="forwarded@elsewhere.example")) == "bounce"
    assert suppression_for("cy@example.com") is not None  # the address Herald sent to
    # A forged token (Ann's id, a made-up signature) is ignored: the Message-ID (Bob's) decides.
    forged = f"rp+d{ann.id}-0123456789ab@bounces.herald.test"
    assert process_message(dsn(to=forged, message_id=bob.message_id, recipient="bob@example.com")) == "bounce"
    events = dict(db.session.execute(select(TrackingEvent.email, TrackingEvent.delivery_id)).all())
    assert events == {"ann@example.com": ann.id, "cy@example.com": rows["cy@example.com"].id,
                      "bob@example.com": bob.id}


def test_the_token_is_found_in_original_recipient(app, db, smtp_sink, product, jobs):
    add_customers([("dee@example.com", "Dee")], product)
    run = make_run(products=[product])
    jobs.start(run)
    (message,) = smtp_sink.messages
    assert process_message(dsn(original_recipient=message.mail_from, recipient="dee@example.com",
                               status="4.2.2")) == "bounce"
    event = db.session.scalar(select(TrackingEvent))
    assert (event.email, event.bounce_type, event.delivery_id) == ("dee@example.com", "soft",
                                                                   _rows(db, run.id)["dee@example.com"].id)


def test_test_sends_and_filters(app, db, smtp_sink, product, jobs):
    (person,) = add_customers([("eve@example.com", "Eve")], product)
    run = make_run(products=[product])
    messages = BroadcastMessages(run.broadcast, test=True)
    assert messages.build(recipient_of(None, "t@example.com"))[1] == "noreply@herald.test"

    def own_return_path(message):
        message.envelope_from = f"custom+{message.recipient.delivery_id}@herald.test"
        return message
    app.extensions["herald_hooks"].add("delivery_message", own_return_path)
    jobs.start(run)
    row = _rows(db, run.id)["eve@example.com"]
    assert smtp_sink.messages[0].mail_from == f"custom+{row.id}@herald.test"


def test_return_path_settings_fit_a_local_part_or_refuse_to_start(app):
    longest = ReturnPaths("example.com", "p" * MAX_PREFIX, "k")(2 ** 63 - 1)
    assert len(longest.partition("@")[0]) == 64
    assert ReturnPaths("bücher.example", "b", "k")(1).endswith("@xn--bcher-kva.example")
    for bad in ({"RETURN_PATH_PREFIX": "p" * (MAX_PREFIX + 1)}, {"RETURN_PATH_PREFIX": "a+b"},
                {"RETURN_PATH_DOMAIN": "not a domain"}):
        with pytest.raises(ConfigError, match="RETURN_PATH"):
            create_app({**app.config, **bad})


ARF = """From: abuse@isp.example
To: {to}
Subject: complaint
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="AA"

--AA
Content-Type: text/plain

A complaint.
--AA
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: x/1.0
Version: 1

--AA
Content-Type: text/rfc822-headers

Message-ID: {message_id}
To: someone@else.example

--AA--
"""


def _signed_post(client, payload):
    import json

    from app.tracking.webhook import sign
    body = json.dumps(payload).encode()
    return client.post("/hooks/bounces", data=body, content_type="application/json",
                       headers={"X-Herald-Signature": sign(body, "hook-secret")})


def test_a_forged_bounce_or_complaint_with_a_guessed_message_id_suppresses_no_one(
        app, db, smtp_sink, product, jobs, client, runner, tmp_path):
    """Review E: Message-IDs were herald.<run>.<delivery>@domain, sequential, so a DSN or an ARF
    report quoting a guessed one suppressed that recipient (complained blocks system e-mails too).
    Now the id carries a tag (HMAC under SECRET_KEY) and an id of Herald's shape matches only with
    it: by mail (process_message and `flask bounces fetch`) and by the webhook."""
    import mailbox

    app.config["BOUNCE_WEBHOOK_SECRET"] = "hook-secret"
    add_customers([("ann@example.com", "Ann"), ("bob@example.com", "Bob")], product)
    run = make_run(products=[product])
    jobs.start(run)
    rows = _rows(db, run.id)
    ann, bob = rows["ann@example.com"], rows["bob@example.com"]
    assert bob.message_id.startswith(f"<herald.{run.id}.{bob.id}.")
    by_recipient = {m.rcpt_tos[0]: m for m in smtp_sink.messages}
    assert by_recipient["bob@example.com"].message["Message-ID"] == bob.message_id
    guessed = f"<HERALD.{run.id}.{bob.id}@HERALD.TEST>"
    forged_token = f"rp+d{ann.id}-0123456789ab@bounces.herald.test"
    forged_tag = f"<herald.{run.id}.{bob.id}.{'a' * 16}@herald.test>"
    forged = [dsn(to="rp@bounces.herald.test", recipient="bob@example.com", message_id=guessed),
              dsn(to=forged_token, recipient="bob@example.com", message_id=guessed),
              dsn(to="rp@bounces.herald.test", recipient="bob@example.com", message_id=forged_tag),
              ARF.format(to="rp@bounces.herald.test", message_id=guessed).encode(),
              ARF.format(to="rp@bounces.herald.test", message_id=forged_tag).encode()]
    for raw in forged:
        assert process_message(raw) == "unknown"
    assert suppression_for("bob@example.com") is None and suppression_for("ann@example.com") is None

    # the same through `flask bounces fetch`: forged ones left in the mailbox, nothing suppressed
    box = mailbox.Maildir(str(tmp_path / "box"), create=True)
    for raw in forged:
        box.add(raw)
    result = runner.invoke(args=["bounces", "fetch", str(tmp_path / "box")])
    assert result.exit_code == 0 and "nothing matched; 5 unknown" in result.output, result.output
    assert len(box) == len(forged) and suppression_for("bob@example.com") is None

    # the webhook: a guessed message_id is no delivery's, so the event applies to its own email
    response = _signed_post(client, {"type": "complaint", "email": "mallory@example.org", "message_id": guessed})
    assert response.json["results"][0]["email"] == "mallory@example.org", response.json
    assert suppression_for("bob@example.com") is None

    # the real ids still match, in any case, by every path
    assert process_message(dsn(recipient="bob@example.com", message_id=bob.message_id.upper())) == "bounce"
    assert suppression_for("bob@example.com").reason == "bounced"
    box.add(ARF.format(to="rp@bounces.herald.test", message_id=ann.message_id).encode())
    result = runner.invoke(args=["bounces", "fetch", str(tmp_path / "box")])
    assert ": 1 complaint;" in result.output, result.output
    assert suppression_for("ann@example.com").reason == "complained"
    response = _signed_post(client, {"type": "bounce", "email": "someone@example.org", "message_id": bob.message_id})
    assert response.json["results"][0]["email"] == "bob@example.com", response.json


def test_the_webhook_matches_by_return_path_first_then_by_message_id(app, db, smtp_sink, product, jobs, client):
    """Review E: webhook events matched by Message-ID only. The optional return_path (the address
    the bounce was sent to) is matched first, its VERP signature checked as by mail."""
    app.config["BOUNCE_WEBHOOK_SECRET"] = "hook-secret"
    add_customers([("ann@example.com", "Ann"), ("bob@example.com", "Bob"), ("cy@example.com", "Cy")], product)
    run = make_run(products=[product])
    jobs.start(run)
    rows = _rows(db, run.id)
    by_recipient = {m.rcpt_tos[0]: m.mail_from for m in smtp_sink.messages}
    ann, bob = rows["ann@example.com"], rows["bob@example.com"]
    # Ann's return path wins over Bob's Message-ID and over the event's email
    response = _signed_post(client, {"type": "bounce", "email": "other@example.org", "id": "w1",
                                     "return_path": f"<{by_recipient['ann@example.com'].upper()}>",
                                     "message_id": bob.message_id})
    result = response.json["results"][0]
    assert result["email"] == "ann@example.com" and result["run_id"] == run.id, response.json
    assert result["note"].startswith("return_path is the message sent to ann@example.com")
    assert suppression_for("ann@example.com") and suppression_for("bob@example.com") is None
    # a forged signature is ignored: the Message-ID (Bob's) decides
    response = _signed_post(client, {"type": "complaint", "email": "bob@example.com", "id": "w2",
                                     "return_path": f"rp+d{rows['cy@example.com'].id}-0123456789ab@bounces.herald.test",
                                     "message_id": bob.message_id})
    assert response.json["results"][0]["email"] == "bob@example.com"
    assert suppression_for("bob@example.com").reason == "complained" and suppression_for("cy@example.com") is None
    # a return path alone is enough; one that is not an address is refused
    response = _signed_post(client, {"type": "bounce", "email": "x@example.org", "bounce_type": "soft",
                                     "return_path": by_recipient["cy@example.com"]})
    event = db.session.scalar(select(TrackingEvent).where(TrackingEvent.email == "cy@example.com"))
    assert event.delivery_id == rows["cy@example.com"].id and event.bounce_type == "soft"
    assert _signed_post(client, {"type": "bounce", "email": "x@example.org", "return_path": 5}).status_code == 422
