"""POST /hooks/bounces: HMAC signature, JSON errors, all-or-nothing batches, retries, plugins."""
import json

import pytest
from sqlalchemy import func, select

from app.tracking.models import TrackingEvent

from app.mail.suppression import Suppression
from app.tracking.services import suppression_for
from app.tracking.webhook import sign
from app.testing import write_plugin

SECRET = "s3cret-webhook-key"


@pytest.fixture
def app_config():
    return {"BOUNCE_WEBHOOK_SECRET": SECRET}


def _post(client, payload, secret=SECRET, raw=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    return client.post("/hooks/bounces", data=body, content_type="application/json",
                       headers={"X-Herald-Signature": sign(body, secret)})


def _count(db, model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_good_signature_records_bounces_and_complaints(client, db, run, ledger):
    ledger.add(501, run.id, "hard@example.com", "<m501@herald.test>")
    response = _post(client, {"events": [
        {"type": "bounce", "email": "Hard@Example.com", "bounce_type": "hard", "id": "ev-1",
         "message_id": "<m501@herald.test>", "detail": "550 5.1.1 user unknown"},
        {"type": "bounce", "email": "soft@example.com", "bounce_type": "soft", "id": "ev-2"},
        {"type": "complaint", "email": "spam@example.com", "id": "ev-3"}]})
    assert response.status_code == 200, response.json
    assert response.json["processed"] == 3
    assert response.json["results"][0] == {"email": "hard@example.com", "recorded": True,
                                           "suppressed": True, "run_id": run.id}
    assert suppression_for("hard@example.com").source == "webhook"
    assert suppression_for("soft@example.com") is None
    assert suppression_for("spam@example.com").reason == "complained"


def test_single_event_object_is_accepted(client, db):
    assert _post(client, {"type": "complaint", "email": "one@example.com"}).status_code == 200
    assert suppression_for("one@example.com").reason == "complained"


def test_bad_or_missing_signature_is_401_json(client, db):
    body = json.dumps({"type": "complaint", "email": "x@example.com"}).encode()
    response = _post(client, None, secret="wrong", raw=body)
    assert response.status_code == 401 and "signature" in response.json["error"]
    response = client.post("/hooks/bounces", data=body, content_type="application/json")
    assert response.status_code == 401 and response.json["error"]
    assert _count(db, Suppression) == 0


def test_no_secret_configured_refuses_everything(make_app, db):
    other = make_app(BOUNCE_WEBHOOK_SECRET="")
    body = b'{"type": "complaint", "email": "x@example.com"}'
    response = other.test_client().post("/hooks/bounces", data=body, headers={"X-Herald-Signature": sign(body, "")})
    assert response.status_code == 401 and "no secret" in response.json["error"]


def test_bad_json_is_400_json(client, db):
    response = _post(client, None, raw=b"{not json")
    assert response.status_code == 400 and "not valid JSON" in response.json["error"]
    for number in (b"NaN", b"Infinity", b"1e309"):  # not JSON a database can store
        response = _post(client, None, raw=b'{"type": "bounce", "email": "a@example.com", "n": %s}' % number)
        assert response.status_code == 400 and "not valid JSON" in response.json["error"], number


def test_deeply_nested_json_is_400_not_500(client, db):
    for depth in (5000, 100):  # past the decoder's recursion, and past Herald's own limit of 32
        response = _post(client, None, raw=b'{"events": ' + b"[" * depth + b"]" * depth + b"}")
        assert response.status_code == 400 and "nested more than 32 levels" in response.json["error"], depth
    assert _count(db, Suppression) == 0


def test_a_boolean_id_is_refused_as_a_number_is_taken(client, db):
    response = _post(client, {"type": "bounce", "email": "a@example.com", "id": True})
    assert response.status_code == 422 and response.json["errors"][0]["error"].startswith("id: Must be text")
    assert _post(client, {"type": "bounce", "email": "a@example.com", "id": 17}).status_code == 200


def test_invalid_event_rejects_the_whole_batch(client, db):
    response = _post(client, {"events": [
        {"type": "bounce", "email": "ok@example.com"},
        {"type": "bounce", "email": "not-an-address"},
        {"type": "bounce", "email": "x@example.com", "bounce_type": "medium"},
        {"type": "unsubscribe", "email": "y@example.com"}]})
    assert response.status_code == 422
    assert [e["index"] for e in response.json["errors"]] == [1, 2, 3]
    assert _count(db, Suppression) == 0 and _count(db, TrackingEvent) == 0
    assert _post(client, {"events": []}).status_code == 422
    assert _post(client, [1, 2]).status_code == 422


def test_provider_retry_with_same_id_counts_once(client, db):
    event = {"type": "bounce", "email": "soft@example.com", "bounce_type": "soft", "id": "retry-1"}
    assert _post(client, event).json["results"][0]["recorded"] is True
    assert _post(client, event).json["results"][0]["recorded"] is False
    assert _count(db, TrackingEvent) == 1


def test_wrong_method_answers_json(client):
    response = client.get("/hooks/bounces")
    assert response.status_code == 405 and response.json["error"]


PROVIDER_PLUGIN = '''
"""Adapts the imaginary AcmeMail provider: its own token header and payload."""
NAME = "AcmeMail bounces"
VERSION = "1.0"


def setup(host):
    def verify(valid, headers, body):
        return valid or headers.get("X-Acme-Token") == "acme-token"

    def payload(data, headers):
        if isinstance(data, dict) and "acme" in data:
            return {"events": [{"type": "bounce" if e["kind"] == "Bounce" else "complaint",
                                "email": e["recipient"], "bounce_type": "hard", "id": e["uuid"]}
                               for e in data["acme"]]}
        return data

    host.add_filter("bounce_webhook_verify", verify)
    host.add_filter("bounce_webhook_payload", payload)
'''


def test_a_plugin_adapts_a_provider(make_app, plugin_dir, db):
    from app.plugins.services import activate

    write_plugin(plugin_dir, "acmemail", PROVIDER_PLUGIN)
    other = make_app(PLUGINS_DIR=str(plugin_dir), BOUNCE_WEBHOOK_SECRET=SECRET)
    body = json.dumps({"acme": [{"kind": "Bounce", "recipient": "p@example.com", "uuid": "u1"}]})
    with other.app_context():
        activate("acmemail")
    client = other.test_client()
    assert client.post("/hooks/bounces", data=body, headers={"X-Acme-Token": "nope"}).status_code == 401
    response = client.post("/hooks/bounces", data=body, headers={"X-Acme-Token": "acme-token"})
    assert response.status_code == 200, response.json
    with other.app_context():
        assert suppression_for("p@example.com").source == "webhook"


def test_control_characters_and_long_ids_get_a_clear_answer(client, db, run, ledger):
    """A detail or Message-ID with a NUL (PostgreSQL refuses it: a 500 until now) is recorded
    with it written visibly; an event id with one, or longer than 200 characters, is a 422."""
    ledger.add(502, run.id, "hard@example.com", "<m502@herald.test>")
    response = _post(client, {"events": [
        {"type": "bounce", "email": "hard@example.com", "id": "ev-9", "message_id": "<m502@herald.test>\x00",
         "detail": "550 5.1.1 user\x00 \x1b[2J unknown \ud800"}]})
    assert response.status_code == 200, response.json
    assert response.json["results"][0]["run_id"] is None  # no Message-ID holds a NUL: no match
    row = suppression_for("hard@example.com")
    assert row.detail == "550 5.1.1 user\\x00 \\x1b[2J unknown \\ud800"
    for bad in ("ev\x00", "x" * 201):
        response = _post(client, {"events": [{"type": "bounce", "email": "a@example.com", "id": bad}]})
        assert response.status_code == 422 and "id" in response.json["errors"][0]["error"]
    assert _post(client, {"events": [{"type": "bounce", "email": "a@example.com", "id": "x" * 200}]}).status_code == 200
    for kind in ("bounce", "complaint"):  # a number as the detail is taken as its digits (a 500 until now)
        response = _post(client, {"type": kind, "email": "n@example.com", "detail": 7})
        assert response.status_code == 200, response.json


@pytest.mark.parametrize("event, error", [
    ({"message_id": 12345}, "message_id: Must be text or null (got a number)."),
    ({"message_id": ["<m@herald.test>"]}, "message_id: Must be text or null (got a list)."),
    ({"message_id": "<" + "x" * 4986 + "@herald.test>"},
     "message_id: Must be at most 300 characters (got 5,000)."),
    ({"extra": 1}, "extra: Unknown field; an event takes: type, email, bounce_type, id, message_id, "
                   "return_path, detail."),
    ({"detail": {"code": 550}}, "detail: Must be text or a whole number or null (got an object)."),
    ({"id": 1.5}, "id: Must be text or a whole number or null (got a number)."),
    ({"bounce_type": None}, "bounce_type: Must be text (got null)."),
])
def test_wrong_types_unknown_fields_and_long_message_ids_are_refused(client, db, run, ledger, event, error):
    """message_id 12 was stored as "12", a 5,000-character one cut to 300 (matching nothing, said
    nowhere) and unknown fields were ignored (review f, item 8). Each is the event's error in the
    422 (by index, the field named first), and nothing of the batch is recorded, the valid event
    beside it neither."""
    ledger.add(503, run.id, "real@example.com", "<m503@herald.test>")
    response = _post(client, {"events": [
        {"type": "bounce", "email": "ok@example.com", "id": "ev-ok"},
        {"type": "bounce", "email": "real@example.com", "id": "ev-bad", **event}]})
    assert response.status_code == 422, response.json
    assert response.json["errors"] == [{"index": 1, "error": error}]
    assert _count(db, Suppression) == 0 and _count(db, TrackingEvent) == 0
    single = _post(client, {"type": "complaint", "email": "real@example.com", **event})
    assert single.status_code == 422 and single.json["errors"] == [{"index": 0, "error": error}]
    assert _count(db, Suppression) == 0


def test_a_batch_body_takes_only_events(client, db):
    response = _post(client, {"events": [{"type": "bounce", "email": "ok@example.com"}], "dry_run": True})
    assert response.status_code == 422 and "'dry_run'" in response.json["error"]
    assert _count(db, Suppression) == 0


def test_an_event_naming_another_address_applies_to_the_address_herald_sent_to(client, db, run, ledger):
    """The message_id matches run's delivery to real@: the bounce (or complaint) is real@'s, as
    the bounce mailbox decides; the stranger the event names is not suppressed, and the answer
    says so."""
    ledger.add(503, run.id, "real@example.com", "<m503@herald.test>")
    ledger.add(504, run.id, "other@example.com", "<m504@herald.test>")
    response = _post(client, {"events": [
        {"type": "bounce", "email": "Stranger@example.com", "id": "ev-s1", "message_id": "<m503@herald.test>"},
        {"type": "complaint", "email": "stranger2@example.com", "id": "ev-s2", "message_id": "m504@herald.test"}]})
    assert response.status_code == 200, response.json
    first, second = response.json["results"]
    assert (first["email"], first["run_id"], first["ignored_email"]) == ("real@example.com", run.id,
                                                                         "stranger@example.com")
    assert "applies to that address; stranger@example.com was left alone" in first["note"]
    assert (second["email"], second["ignored_email"]) == ("other@example.com", "stranger2@example.com")
    assert suppression_for("stranger@example.com") is None and suppression_for("stranger2@example.com") is None
    assert suppression_for("real@example.com").reason == "bounced"
    assert suppression_for("other@example.com").reason == "complained"
    events = db.session.execute(select(TrackingEvent.email, TrackingEvent.run_id, TrackingEvent.delivery_id)
                                .order_by(TrackingEvent.id)).all()
    assert [tuple(e) for e in events] == [("real@example.com", run.id, 503), ("other@example.com", run.id, 504)]
    same = _post(client, {"type": "bounce", "email": "real@example.com", "message_id": "<m503@herald.test>"})
    assert "note" not in same.json["results"][0]
