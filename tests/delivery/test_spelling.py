"""Addresses keep the winning customer's own spelling on the envelope and in To: (issue 13), while
de-duplication, the suppression list and the ledger's key stay case-insensitive. Customers are
registered, so their domains are already lower case (mail.addresses)."""
from sqlalchemy import select

from app.delivery.models import Delivery, DeliveryDuplicate
from app.mail.suppression import Suppression

from .conftest import add_customers, make_run


def test_the_winners_spelling_is_sent_to_and_the_key_stays_lower_case(app, db, smtp_sink, product, jobs):
    bob, bob_twin, ann, ann_twin, zed, cy = add_customers(
        [("Bob.Smith@Example.com", "Bob"), ("bob.smith@example.com", "Bobby"), ("ann@example.com", "Ann"),
         ("ANN@Example.com", "Annie"), ("Zed@Example.org", "Zed"), ("Cy@Example.net", "Cy")], product)
    smtp_sink.cues = {"Cy@example.net": ["550 5.1.1 No such user"]}
    run = make_run(products=[product])
    jobs.start(run)

    rows = {d.email: d for d in db.session.scalars(select(Delivery).where(Delivery.run_id == run.id))}
    assert set(rows) == {"bob.smith@example.com", "ann@example.com", "zed@example.org", "cy@example.net"}
    assert {email: row.spelling for email, row in rows.items()} == {
        "bob.smith@example.com": "Bob.Smith@example.com", "ann@example.com": None,
        "zed@example.org": "Zed@example.org", "cy@example.net": "Cy@example.net"}
    duplicates = db.session.scalars(select(DeliveryDuplicate.customer_id)).all()
    assert sorted(duplicates) == sorted([bob_twin.id, ann_twin.id])
    by_recipient = {m.rcpt_tos[0]: m.message for m in smtp_sink.messages}
    assert sorted(by_recipient) == ["Bob.Smith@example.com", "Zed@example.org", "ann@example.com"]
    assert by_recipient["Bob.Smith@example.com"]["To"] == "Bob <Bob.Smith@example.com>"
    assert by_recipient["Zed@example.org"]["To"] == "Zed <Zed@example.org>"
    assert rows["cy@example.net"].status == "failed"  # rejected at RCPT: suppressed under its key
    assert db.session.scalar(select(Suppression.email)) == "cy@example.net"
