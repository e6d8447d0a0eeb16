"""Every way an address comes in goes through mail.addresses.normalise_address (issue 14):
email-validator's rules, the person's own spelling kept, the domain lower-cased in Unicode."""
import html
import io
import re

import pytest
from sqlalchemy import select

from app.auth.services import create_user
from app.broadcasts.mail import parse_addresses
from app.broadcasts.validation import clean_reply_to
from app.core.settings.services import coerce, registry
from app.mail.addresses import AddressError, address_key, normalise_address, stored_problem, wire_address
from app.mail.suppression import Suppression
from app.network.cli import seed_customers
from app.network.models import Customer
from app.network.services import find_customer, register_customer
from app.tracking.services import checked_address
from app.testing import csrf_token


def test_the_rules_keep_the_spelling_and_normalise_the_domain(app):
    assert normalise_address("  Bob.Smith@Example.COM ") == "Bob.Smith@example.com"
    assert normalise_address("anna@XN--BCHER-KVA.example") == "anna@bücher.example"
    assert normalise_address("Jörg@Bücher.Example") == "Jörg@bücher.example"
    assert address_key("Jörg@XN--BCHER-KVA.example") == "jörg@bücher.example"
    for bad, why in (("", "required"), ("two@@example.com", "not a valid"),
                     ("x@mail.localhost", "special-use"), ("a" * 250 + "@example.com", "too long"),
                     ('"quoted"@example.com', "not a valid"), ("Bob <bob@example.com>", "not a valid")):
        with pytest.raises(AddressError, match=why):
            normalise_address(bad)
    assert normalise_address("dev@herald.test") == "dev@herald.test"  # RFC 6761, outside production
    app.config["PRODUCTION"] = True
    with pytest.raises(AddressError, match="special-use"):
        normalise_address("dev@herald.test")


def test_wire_forms():
    assert wire_address("Bob@example.com").envelope == "Bob@example.com"
    idn = wire_address("anna@bücher.example")
    assert (idn.envelope, idn.header, idn.smtputf8) == ("anna@xn--bcher-kva.example",) * 2 + (False,)
    utf8 = wire_address("jörg@bücher.example")
    assert (utf8.envelope, utf8.header, utf8.smtputf8) == ("jörg@xn--bcher-kva.example",
                                                           "jörg@bücher.example", True)
    for bad in ("x@example.com\r\nRCPT TO:<y@example.com>", "no-at-sign", "a b@example.com"):
        with pytest.raises(AddressError):
            wire_address(bad)


def test_registration_users_and_lookups(app, db):
    customer = register_customer("Zoë.Quinn@Bücher.EXAMPLE", "Zoë")
    db.session.commit()
    assert customer.email == "Zoë.Quinn@bücher.example"
    assert find_customer("zoë.quinn@xn--bcher-kva.example").id == customer.id
    assert find_customer("ZOë.QUINN@BÜCHER.example").id == customer.id
    # the key folds ASCII letters only (docs/delivery.md, "The same address: the key"), in SQL as
    # in Python: Ë is not ë, on SQLite and on PostgreSQL alike
    assert find_customer("ZOË.QUINN@bücher.example") is None
    with pytest.raises(ValueError, match="not a valid e-mail address"):
        register_customer("zoe@@example.com")
    assert create_user("Admin@Example.ORG", "password123").email == "Admin@example.org"
    with pytest.raises(ValueError, match="not a valid e-mail address"):
        create_user("admin@nowhere", "password123")


def test_create_admin_command_refuses_what_is_no_address(runner, app):
    result = runner.invoke(args=["create-admin", "--email", "boss@example", "--password", "longenough"])
    assert result.exit_code != 0 and "not a valid e-mail address" in result.output


def test_broadcast_reply_to_and_test_addresses(app):
    assert clean_reply_to(" Help@Example.COM ") == "Help@example.com"
    assert clean_reply_to("") is None
    with pytest.raises(ValueError, match="not a valid e-mail address"):
        clean_reply_to("help@")
    assert parse_addresses("A@Example.com, b@bücher.example") == ["A@example.com", "b@bücher.example"]
    with pytest.raises(ValueError, match="nope is not a valid e-mail address"):
        parse_addresses("ok@example.com nope")


def test_suppression_list_entries_use_the_lower_case_key(app, admin_client, db):
    assert checked_address("Anna@XN--BCHER-KVA.example") == "anna@bücher.example"
    page = "/network/suppressions/"
    response = admin_client.post(page + "add", data={"csrf_token": csrf_token(admin_client, page),
                                                     "email": "Bad@@example.com", "reason": "unsubscribed"})
    assert response.status_code == 400 and "not a valid e-mail address" in response.get_data(as_text=True)
    admin_client.post(page + "add", data={"csrf_token": csrf_token(admin_client, page),
                                          "email": "Jörg@XN--BCHER-KVA.example", "reason": "bounced"})
    csv = "email\nAnna@Bücher.example\n".encode()
    admin_client.post(page + "import", data={"csrf_token": csrf_token(admin_client, page + "import"),
                                             "reason": "unsubscribed", "file": (io.BytesIO(csv), "l.csv")},
                      content_type="multipart/form-data")
    assert sorted(db.session.scalars(select(Suppression.email))) == ["anna@bücher.example",
                                                                    "jörg@bücher.example"]


def test_settings_with_addresses(app):
    specs = registry().specs
    assert coerce(specs["tracking.unsubscribe_mailbox"], " Unsub@Example.COM ") == "Unsub@example.com"
    assert coerce(specs["tracking.unsubscribe_mailbox"], "") == ""
    sender = coerce(specs["system_emails.mail_from"], "Acme  Team <Hello@ACME.example>")
    assert sender == "Acme Team <Hello@acme.example>"
    for key, bad in (("tracking.unsubscribe_mailbox", "unsub@"), ("system_emails.mail_from", "Acme <x@@y>")):
        with pytest.raises(ValueError, match="not a valid e-mail address"):
            coerce(specs[key], bad)


def test_seeded_addresses_follow_the_rules(app, db):
    import random

    class Progress:
        def update(self, n):
            pass
    seed_customers(50, [], random.Random(1), Progress())
    emails = db.session.scalars(select(Customer.email)).all()
    assert len(emails) == 50 and all(normalise_address(email) == email for email in emails)


LOOK_ALIKES = (
    ("a" * 65 + "@example.com", "65 octets long; at most 64"),  # RFC 5321 section 4.5.3.1.1
    ("\uff21@example.com", "write it 'A'"),  # full-width Ａ: it was stored and keyed as ａ, never a
    ("\u0430dmin@herald.test", "mixes scripts (Cyrillic and Latin)"),  # a Cyrillic а
)


@pytest.mark.parametrize("address, why", LOOK_ALIKES)
def test_every_entry_refuses_long_full_width_and_mixed_script_local_parts(app, admin_client, db, runner,
                                                                          tmp_path, address, why):
    """Suppressions took a 65-octet local part, Ａ@example.com (keyed ａ@example.com, which never
    matches a@example.com) and аdmin@herald.test with a Cyrillic а, without a word; so did
    customers, users and settings: one rule (core.hostnames.local_part_problem) for all."""
    for entry in (normalise_address, checked_address, register_customer,
                  lambda text: create_user(text, "password123"),
                  lambda text: coerce(registry().specs["tracking.unsubscribe_mailbox"], text),
                  lambda text: coerce(registry().specs["system_emails.mail_from"], f"Acme <{text}>")):
        with pytest.raises(ValueError, match=re.escape(why)):
            entry(address)
    page = "/network/suppressions/"
    added = admin_client.post(page + "add", data={"csrf_token": csrf_token(admin_client, page),
                                                  "email": address, "reason": "unsubscribed"})
    assert added.status_code == 400 and why in html.unescape(added.get_data(as_text=True))
    imported = admin_client.post(page + "import", data={
        "csrf_token": csrf_token(admin_client, page + "import"), "reason": "unsubscribed",
        "file": (io.BytesIO(f"email\n{address}\n".encode()), "l.csv")}, content_type="multipart/form-data")
    assert imported.status_code == 400 and why in html.unescape(imported.get_data(as_text=True))
    path = tmp_path / "list.csv"
    path.write_text(f"email\n{address}\n", encoding="utf-8")
    result = runner.invoke(args=["suppressions", "import", str(path)])
    assert result.exit_code == 1 and why in result.output
    assert db.session.scalars(select(Suppression.email)).all() == []
    stored = address.lower() if address.startswith("\uff21") else address  # as the list keyed it
    assert stored_problem(stored, key=True).startswith("not an address")  # flask check lists old rows
    assert normalise_address("a" * 64 + "@example.com") == "a" * 64 + "@example.com"
    assert stored_problem("a" * 64 + "@example.com") is None
    assert normalise_address("山田.たろう@example.jp") == "山田.たろう@example.jp"  # Han with kana: one script
    assert normalise_address("jörg.müller@bücher.example") == "jörg.müller@bücher.example"
