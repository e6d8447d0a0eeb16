"""Bounces: DSN parsing on realistic samples, VERP, the suppression policy and `flask bounces fetch`."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.mail.message_ids import tagger
from app.mail.verp import ReturnPaths, delivery_id_from_token
from app.tracking.bounces import classify, parse_bounce
from app.tracking.ledger import find_delivery
from app.tracking.models import TrackingEvent
from app.tracking.mailboxes import process_message
from app.tracking.services import (record_bounce, record_complaint, resubscribe, soft_bounce_count,
                                   suppression_for, unsubscribe)
from app.core.utils import utcnow
from app.testing import audit_entries

def dsn_bytes(name: str) -> bytes:
    from pathlib import Path
    return (Path(__file__).resolve().parent.parent / "fixtures" / "dsn" / name).read_bytes()


SAMPLES = [  # file, kind, bounce type, recipient, status, original Message-ID
    ("postfix_hard_550.eml", "bounce", "hard", "nobody@example.net", "5.1.1", "<run7.d4242.1763913729@herald.test>"),
    ("postfix_soft_timeout.eml", "bounce", "soft", "slow@example.org", "4.4.1", "<run7.d4243.1763913729@herald.test>"),
    ("postfix_delayed.eml", "delay", None, "slow@example.org", "4.4.1", "<run7.d4243.1763913729@herald.test>"),
    ("exim_hard.eml", "bounce", "hard", "bob@example.org", "5.1.1", "<run7.d4244.1763913779@herald.test>"),
    ("exim_legacy_plain.eml", "bounce", "hard", "old@example.com", None, "<run7.d4245.1763913940@herald.test>"),
    ("microsoft_hard.eml", "bounce", "hard", "gone@contoso.example", "5.1.10", "<run7.d4246.1763913850@herald.test>"),
    ("gmail_hard.eml", "bounce", "hard", "typo.name@gmail.com", "5.1.1", "<run7.d4247.1763913980@herald.test>"),
    ("gmail_over_quota.eml", "bounce", "soft", "full.box@gmail.com", "5.2.2", "<run7.d4248.1763914000@herald.test>"),
    ("arf_complaint.eml", "complaint", None, "angry@comcast.example", None, "<run7.d4249.1763914020@herald.test>"),
]


@pytest.mark.parametrize("name,kind,bounce_type,recipient,status,message_id", SAMPLES)
def test_dsn_samples_are_read(app, dsn, name, kind, bounce_type, recipient, status, message_id):
    parsed = parse_bounce(dsn(name))
    assert len(parsed.reports) == 1, parsed.reports
    report = parsed.reports[0]
    assert (report.kind, report.bounce_type, report.recipient, report.status) == (kind, bounce_type, recipient, status)
    assert parsed.original_message_id == message_id


def test_not_a_bounce(app, dsn):
    assert parse_bounce(dsn("out_of_office.eml")).reports == []


def test_postfix_sample_carries_a_valid_verp_token(app, dsn):
    parsed = parse_bounce(dsn("postfix_hard_550.eml"))
    assert parsed.verp_token == "d4242-290f14609d98"
    assert delivery_id_from_token(parsed.verp_token) == 4242
    assert parse_bounce(dsn("arf_complaint.eml")).verp_token is None  # d4249-x is no valid token


def test_verp_round_trip_and_forgery(app):
    address = ReturnPaths("Mail.Example.COM", "returns", app.config["SECRET_KEY"])(31337)
    assert address.startswith("returns+d31337-") and address.endswith("@mail.example.com")
    token = address.split("+", 1)[1].split("@", 1)[0]
    assert delivery_id_from_token(token) == 31337
    assert delivery_id_from_token(token.upper()) == 31337  # MTAs may fold case
    assert delivery_id_from_token(token.replace("d31337", "d31338")) is None
    assert delivery_id_from_token("garbage") is None


@pytest.mark.parametrize("action,status,diagnostic,expected", [
    ("failed", "5.1.1", None, ("bounce", "hard")),
    ("failed", "5.7.1", "550 5.7.1 message rejected as spam", ("bounce", "soft")),
    ("failed", "4.2.2", None, ("bounce", "soft")),
    ("failed", None, "smtp; 550 mailbox unavailable", ("bounce", "hard")),
    ("delayed", "4.4.7", None, ("delay", None)),
    ("delivered", "2.0.0", None, (None, None)),
])
def test_classification(action, status, diagnostic, expected):
    assert classify(action, status, diagnostic) == expected


def test_hard_bounce_and_complaint_suppress_at_once(db):
    assert record_bounce("Hard@Example.com", "hard", "smtp", "550 5.1.1").suppressed
    assert suppression_for("hard@example.com").reason == "bounced"
    assert record_complaint("angry@example.com", "webhook", "abuse").suppressed
    assert suppression_for("angry@example.com").reason == "complained"


def test_soft_bounces_suppress_after_the_threshold_within_the_window(db, setting):
    setting("tracking.soft_bounce_threshold", 3)
    setting("tracking.soft_bounce_days", 30)
    old = record_bounce("soft@example.com", "soft", "dsn", "452 4.2.2 full")
    db.session.get(TrackingEvent, db.session.scalar(select(TrackingEvent.id))).created_at = utcnow() - timedelta(days=31)
    assert old.recorded and not old.suppressed
    assert not record_bounce("soft@example.com", "soft", "dsn", "452").suppressed
    assert not record_bounce("soft@example.com", "soft", "dsn", "452").suppressed  # 2 in window, 1 too old
    third = record_bounce("soft@example.com", "soft", "dsn", "452 4.2.2 full")
    assert third.suppressed
    row = suppression_for("soft@example.com")
    assert row.reason == "bounced" and row.detail.startswith("3 soft bounces in 30 days")


def test_a_complaint_outranks_an_unsubscribe_but_an_unsubscribe_never_weakens(db):
    unsubscribe("x@example.com")
    record_complaint("x@example.com")
    assert suppression_for("x@example.com").reason == "complained"
    assert unsubscribe("x@example.com") is False
    assert suppression_for("x@example.com").reason == "complained"


def test_same_event_key_is_counted_once(db, setting):
    setting("tracking.soft_bounce_threshold", 2)
    assert record_bounce("twice@example.com", "soft", "dsn", event_key="dsn:abc").recorded
    assert not record_bounce("twice@example.com", "soft", "dsn", event_key="dsn:abc").recorded
    assert suppression_for("twice@example.com") is None


def test_find_delivery_by_message_id_and_verp(db, run, ledger):
    ledger.add(4242, run.id, "nobody@example.net", "<run7.d4242.1763913729@herald.test>")
    assert find_delivery(message_id="run7.d4242.1763913729@herald.test").id == 4242
    assert find_delivery(verp_token="d4242-290f14609d98").run_id == run.id
    assert find_delivery(verp_token="d4242-000000000000") is None
    assert find_delivery(message_id="<unknown@x>") is None


def test_herald_message_ids_match_whatever_case_a_provider_wrote_them_in(db, run, ledger):
    tag = tagger().tag(run.id, 4243)
    ledger.add(4243, run.id, "case@example.net", f"<herald.{run.id}.4243.{tag}@Herald.Test>")
    for written in (f"herald.{run.id}.4243.{tag}@herald.test", f"<HERALD.{run.id}.4243.{tag.upper()}@HERALD.TEST>"):
        assert find_delivery(message_id=written).id == 4243, written
    assert find_delivery(message_id=f"herald.{run.id}.4243.{tag}@other.test") is None  # another's id
    other = tagger().tag(run.id, 999999999)
    assert find_delivery(message_id=f"herald.{run.id}.999999999.{other}@herald.test") is None  # no such row


def test_a_herald_message_id_without_its_tag_matches_nothing(db, run, ledger):
    """Run and delivery ids are sequential: an id of Herald's shape is trusted only with its tag
    (HMAC under SECRET_KEY), so a forged bounce cannot name another recipient's message."""
    tag = tagger().tag(run.id, 4244)
    ledger.add(4244, run.id, "victim@example.net", f"<herald.{run.id}.4244.{tag}@herald.test>")
    for forged in (f"<herald.{run.id}.4244@herald.test>",  # guessed: the shape before tags
                   f"<herald.{run.id}.4244.{'0' * 16}@herald.test>",  # a made-up tag
                   f"<herald.{run.id + 1}.4244.{tag}@herald.test>",  # the tag of another run
                   f"<herald.{run.id}.4245.{tag}@herald.test>"):  # the tag of another delivery
        assert find_delivery(message_id=forged) is None, forged
    # a delivery stored before tags (its id has none) is not matched by that id either
    ledger.add(4246, run.id, "old@example.net", f"<herald.{run.id}.4246@herald.test>")
    assert find_delivery(message_id=f"<herald.{run.id}.4246@herald.test>") is None
    outcome = record_bounce("attacker@example.org", "hard", "webhook", "550",
                            message_id=f"<herald.{run.id}.4244@herald.test>")
    assert outcome.email == "attacker@example.org" and suppression_for("victim@example.net") is None


def test_record_bounce_by_message_id_attributes_the_run(db, run, ledger):
    ledger.add(4300, run.id, "a@example.org", "<m.4300@herald.test>")
    outcome = record_bounce("a@example.org", "hard", "smtp", "550 5.1.1", message_id="<m.4300@herald.test>")
    assert outcome.delivery.id == 4300
    event = db.session.scalar(select(TrackingEvent))
    assert (event.run_id, event.delivery_id) == (run.id, 4300)


def _ledger_for_samples(ledger, run):
    ids = {int(message_id.split(".d")[1].split(".")[0]): (recipient, message_id)
           for _, _, _, recipient, _, message_id in SAMPLES}
    for delivery_id, (recipient, message_id) in ids.items():
        ledger.add(delivery_id, run.id, recipient, message_id)


def test_fetch_from_maildir_processes_ours_and_leaves_unknown_untouched(app, db, run, ledger, maildir, runner):
    _ledger_for_samples(ledger, run)
    keys = {name: maildir.put(name) for name in ("postfix_hard_550.eml", "gmail_over_quota.eml",
                                                 "arf_complaint.eml", "postfix_delayed.eml",
                                                 "out_of_office.eml", "foreign_dsn.eml")}
    unknown = {k: (maildir.get_bytes(keys[k]), maildir.get_message(keys[k]).get_flags(),
                   maildir.get_message(keys[k]).get_subdir()) for k in ("out_of_office.eml", "foreign_dsn.eml")}
    result = runner.invoke(args=["bounces", "fetch", str(maildir.path)])
    assert result.exit_code == 0, result.output
    assert "6 messages read: 2 bounce, 1 complaint, 1 delay" in result.output
    assert "2 unknown left untouched" in result.output
    assert set(maildir.keys()) == {keys["out_of_office.eml"], keys["foreign_dsn.eml"]}
    for name, (raw, flags, subdir) in unknown.items():
        message = maildir.get_message(keys[name])
        assert (maildir.get_bytes(keys[name]), message.get_flags(), message.get_subdir()) == (raw, flags, subdir)
    assert suppression_for("nobody@example.net").source == "dsn"
    assert suppression_for("angry@comcast.example").reason == "complained"
    assert suppression_for("full.box@gmail.com") is None  # one soft bounce: below the threshold
    assert suppression_for("ghost@example.net") is None  # not ours
    kinds = db.session.execute(select(TrackingEvent.kind, TrackingEvent.run_id)).all()
    assert sorted(kinds) == [("bounced", run.id), ("bounced", run.id), ("complained", run.id)]
    (entry,) = audit_entries(action="bounces.fetched")
    assert entry.actor_kind == "cli" and entry.summary.startswith("6 messages read: 2 bounce")


def test_fetch_keep_flags_processed_and_never_counts_twice(app, db, run, ledger, maildir, runner):
    _ledger_for_samples(ledger, run)
    key = maildir.put("gmail_over_quota.eml")
    for _ in range(2):
        assert runner.invoke(args=["bounces", "fetch", str(maildir.path), "--keep"]).exit_code == 0
    assert "S" in maildir.get_message(key).get_flags()
    assert len(db.session.scalars(select(TrackingEvent)).all()) == 1


def test_mailto_unsubscribe_request_is_processed(app, db, maildir, runner):
    from app.mail.tokens import unsubscribe_mailto

    subject = unsubscribe_mailto("reader@example.com", 3).split("subject=", 1)[1].replace("%20", " ")
    maildir.add(f"From: reader@example.com\nTo: unsubscribe@herald.localhost\nSubject: {subject}\n\n".encode())
    maildir.add(b"From: x@example.com\nTo: unsubscribe@herald.localhost\nSubject: unsubscribe forged.token\n\n")
    result = runner.invoke(args=["bounces", "fetch", str(maildir.path)])
    assert "1 unsubscribe" in result.output and "1 unknown" in result.output
    assert suppression_for("reader@example.com").source == "mailto"


def test_a_message_that_cannot_be_read_never_stops_the_fetch(app, db, run, ledger, maildir, runner):
    """An unknown charset or a DSN's broken base64 raised out of the parser and stopped every fetch
    at that message (second fresh-clone review): both are read as far as they can be, and a
    message the parser cannot read at all is left in place and counted, the others processed."""
    ledger.add(4242, run.id, "nobody@example.net", "<run7.d4242.1763913729@herald.test>")
    maildir.add(b"From: x@example.com\nSubject: hi\nContent-Type: text/plain; charset=x-bogus-8\n\nhello\n")
    broken = dsn_bytes("postfix_soft_timeout.eml").replace(
        b"Content-Type: message/delivery-status", b"Content-Type: message/delivery-status\nContent-Transfer-Encoding: base64")
    maildir.add(broken)
    maildir.put("postfix_hard_550.eml")
    result = runner.invoke(args=["bounces", "fetch", str(maildir.path)])
    assert result.exit_code == 0, result.output
    assert "1 bounce" in result.output and "2 unknown" in result.output, result.output
    assert suppression_for("nobody@example.net").reason == "bounced"


def test_fetch_errors_are_clean(runner, tmp_path, app):
    result = runner.invoke(args=["bounces", "fetch", str(tmp_path)])
    assert result.exit_code != 0 and "is not a Maildir" in result.output
    result = runner.invoke(args=["bounces", "fetch", "imap://nobody:pw@127.0.0.1:1/INBOX"])
    assert result.exit_code != 0 and "cannot open" in result.output


def test_hooks_fire_with_their_documented_arguments(app, db, run, ledger):
    import warnings

    from app.core.hooks import add_action
    from app.core.hooks.registry import UnknownHookWarning
    calls = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownHookWarning)  # every hook is in the catalogue
        for name in ("bounce_recorded", "complaint_recorded", "email_unsubscribed", "email_resubscribed"):
            add_action(name, lambda *args, name=name: calls.append((name, args)))
    ledger.add(77, run.id, "h@example.com", "<m77@herald.test>")
    record_bounce("h@example.com", "hard", "smtp", "550", message_id="<m77@herald.test>")
    record_complaint("c@example.com", "webhook", "abuse")
    unsubscribe("u@example.com", run.id, "link")
    resubscribe("u@example.com", "dashboard")
    (bounce, complaint, unsub, resub) = calls
    assert bounce[0] == "bounce_recorded" and bounce[1][:5] == ("h@example.com", "hard", "smtp", "550", True)
    assert bounce[1][5].id == 77
    assert complaint == ("complaint_recorded", ("c@example.com", "webhook", "abuse", None))
    assert unsub == ("email_unsubscribed", ("u@example.com", run.id, "link"))
    assert resub == ("email_resubscribed", ("u@example.com", "unsubscribed", "dashboard"))


def test_soft_bounces_count_once_per_delivery_not_per_report(app, db, run, ledger, dsn, setting):
    """Issue 13: two DSNs about one message (say a relay's and the final MTA's) were two soft
    bounces towards the threshold; they are one. A soft bounce of another message counts."""
    setting("tracking.soft_bounce_threshold", 2)
    ledger.add(4243, run.id, "slow@example.org", "<run7.d4243.1763913729@herald.test>")
    ledger.add(5243, run.id + 1, "slow@example.org", "<run8.d5243.1763999999@herald.test>")  # next run
    first = dsn("postfix_soft_timeout.eml")
    second = first.replace(b"Message-Id: <2026", b"Message-Id: <relay-2026")  # another report
    assert process_message(first) == process_message(second) == "bounce"
    assert len(db.session.scalars(select(TrackingEvent)).all()) == 2  # both kept as events
    assert soft_bounce_count("slow@example.org") == 1 and suppression_for("slow@example.org") is None
    assert process_message(first.replace(b"run7.d4243.1763913729", b"run8.d5243.1763999999")) == "bounce"
    assert soft_bounce_count("slow@example.org") == 2
    assert suppression_for("slow@example.org").detail.startswith("2 soft bounces in 30 days")


def test_a_bounce_with_control_characters_is_recorded_with_them_visible(app, db, run, ledger, dsn):
    """A DSN's diagnostic holding a NUL and an escape sequence is stored (PostgreSQL refuses a
    NUL) with them written visibly; an original Message-ID that cannot be one matches nothing."""
    ledger.add(4242, run.id, "nobody@example.net", "<run7.d4242.1763913729@herald.test>")
    raw = dsn("postfix_hard_550.eml").replace(b"Diagnostic-Code: smtp; 550", b"Diagnostic-Code: smtp; 550 \x00\x1b[31m")
    assert process_message(raw) == "bounce"
    db.session.commit()
    assert "550 \\x00\\x1b[31m 5.1.1" in suppression_for("nobody@example.net").detail
    assert find_delivery(message_id="<run7.d4242.1763913729\x00@herald.test>") is None
    assert find_delivery(message_id="<" + "x" * 300 + "@herald.test>") is None
    assert find_delivery(message_id="<run7.d4242.1763913729@herald.test>").id == 4242


def test_a_tagged_id_matches_its_delivery_before_the_send_outcome_stored_it(db, run, ledger):
    """The tag proves the id is Herald's for that run and delivery: a DSN read before the send's
    outcome wrote the id (the mailbox skips what it left once) still matches."""
    ledger.add(4250, run.id, "early@example.net", None)
    written = f"<herald.{run.id}.4250.{tagger().tag(run.id, 4250)}@herald.test>"
    assert find_delivery(message_id=written).id == 4250
    assert find_delivery(message_id=f"<herald.{run.id}.4250@herald.test>") is None
