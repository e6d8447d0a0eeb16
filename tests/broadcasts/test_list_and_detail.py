"""The broadcasts list (filters, search, keyset pages), the broadcast page, duplicate, cancel,
delete, and who may reach any of it."""
import re

import pytest
from flask import g

from app.broadcasts.drafts import create_draft
from app.broadcasts.models import Broadcast
from app.broadcasts.sending import send_now
from app.core.extensions import db
from app.testing import csrf_token, login, mail_frames


@pytest.fixture
def several(network):
    """A sent e-mail, a published notice and two drafts with labels."""
    sent = create_draft(network.admin, {"kind": "email", "subject": "Spring newsletter",
                                        "body_html": "<p>x</p>",
                                        "product_ids": [network.starter.id], "labels": ["newsletter"]})
    send_now(sent)
    notice = create_draft(network.admin, {"kind": "notice", "subject": "Maintenance tonight",
                                          "body_html": "<p>Down 22:00</p>", "customer_ids": [network.ann.id],
                                          "labels": ["ops"], "notice_type": "error"})
    send_now(notice)
    draft = create_draft(network.admin, {"kind": "email", "subject": "Summer newsletter",
                                         "labels": ["newsletter"]})
    empty = create_draft(network.admin, {"kind": "notice"})
    db.session.commit()
    return sent, notice, draft, empty


def titles(client, query=""):
    page = client.get(f"/network/broadcasts/{query}").get_data(as_text=True)
    return [t for t in ("Spring newsletter", "Maintenance tonight", "Summer newsletter", "(no subject yet)")
            if t in page]


def test_list_shows_everything_and_filters(boss, several):
    page = boss.get("/network/broadcasts/").get_data(as_text=True)
    assert all(word in page for word in ("Spring newsletter", "badge-sending", "badge-sent", "badge-draft",
                                         "newsletter", "Boss Admin", "Resume"))
    assert titles(boss, "?kind=notice") == ["Maintenance tonight", "(no subject yet)"]
    assert titles(boss, "?status=draft") == ["Summer newsletter", "(no subject yet)"]
    assert titles(boss, "?label=newsletter") == ["Spring newsletter", "Summer newsletter"]
    assert titles(boss, "?q=NEWSL") == ["Spring newsletter", "Summer newsletter"]
    assert titles(boss, "?q=100%25") == []
    assert titles(boss, "?kind=bogus&status=nope") == titles(boss)  # unknown filters are left out
    answer = boss.get("/network/broadcasts/?kind=bogus&status=%3Cb%3Enope")  # and the page says so
    text = answer.get_data(as_text=True)
    assert answer.status_code == 400 and "No kind is called “bogus”; showing every kind." in text
    assert "No status is called “&lt;b&gt;nope”" in text and "<b>nope" not in text
    assert boss.get("/network/broadcasts/?kind=notice").status_code == 200


def test_list_pages_by_keyset(boss, network):
    for number in range(30):
        create_draft(network.admin, {"kind": "notice", "subject": f"Item {number:02d}"})
    db.session.commit()
    first = boss.get("/network/broadcasts/").get_data(as_text=True)
    assert "Item 29" in first and "Item 04" not in first and "Older" in first
    cursor = re.search(r"\?after=(\d+)", first).group(1)  # the Older link (ids differ per database)
    older = boss.get(f"/network/broadcasts/?after={cursor}").get_data(as_text=True)
    assert "Item 04" in older and "Item 29" not in older
    shown = set(re.findall(r"Item \d\d", first)) | set(re.findall(r"Item \d\d", older))
    assert shown == {f"Item {number:02d}" for number in range(30)}  # every draft, on one page or the other


def test_detail_shows_settings_content_runs_and_the_delivery_slot(boss, several):
    sent, notice, _, _ = several
    page = boss.get(f"/network/broadcasts/{sent.id}").get_data(as_text=True)
    assert "Spring newsletter" in page and "Starter" in page and "active, trialing" in page
    assert "planning" in page and "Duplicate as new draft" in page and mail_frames(boss, page)
    page = boss.get(f"/network/broadcasts/{notice.id}").get_data(as_text=True)
    assert "Down 22:00" in page and "notice-error" in page and "Take the notice down" in page
    assert "Ann Active" in page
    assert boss.get("/network/broadcasts/424242").status_code == 404


def test_duplicate_makes_a_new_draft_with_everything(boss, network, several):
    sent = several[0]
    response = boss.post(f"/network/broadcasts/{sent.id}/duplicate",
                         data={"csrf_token": csrf_token(boss, "/network/broadcasts/")})
    assert response.status_code == 302 and response.location.endswith("/edit/review")
    copy = db.session.scalars(db.select(Broadcast).order_by(Broadcast.id.desc())).first()
    assert copy.id != sent.id and copy.status == "draft" and copy.subject == sent.subject
    assert copy.product_ids == [network.starter.id] and [l.label for l in copy.labels] == ["newsletter"]
    assert copy.runs.count() == 0 and copy.sent_at is None
    assert boss.post(f"/network/broadcasts/{sent.id}/duplicate").status_code == 400  # CSRF


def test_cancel_takes_a_notice_down_and_delete_removes_only_drafts(boss, network, several):
    sent, notice, draft, _ = several
    token = csrf_token(boss, "/network/broadcasts/")
    boss.post(f"/network/broadcasts/{notice.id}/cancel", data={"csrf_token": token})
    assert db.session.get(Broadcast, notice.id).status == "cancelled"
    response = boss.post(f"/network/broadcasts/{sent.id}/delete", data={"csrf_token": token})
    assert "Only drafts can be deleted" in boss.get(response.location).get_data(as_text=True)
    boss.post(f"/network/broadcasts/{draft.id}/delete", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(Broadcast, draft.id) is None and db.session.get(Broadcast, sent.id) is not None


@pytest.mark.parametrize("method, url", [
    ("get", "/network/broadcasts/"), ("get", "/network/broadcasts/new"), ("post", "/network/broadcasts/new"),
    ("get", "/network/broadcasts/1"), ("get", "/network/broadcasts/1/edit/content"),
    ("post", "/network/broadcasts/1/edit/review"), ("get", "/network/broadcasts/search/customers?q=a"),
    ("post", "/network/broadcasts/1/preview"), ("post", "/network/broadcasts/1/duplicate"),
])
def test_customers_never_reach_the_wizard_or_the_admin_pages(client, network, several, method, url):
    login(client, network.ann.user)
    data = {"csrf_token": csrf_token(client, "/dashboard/"), "kind": "notice", "nav": "send"}
    assert getattr(client, method)(url, data=data).status_code == 403
    g.pop("_login_user", None)
    anonymous = client.application.test_client()
    assert getattr(anonymous, method)(url).status_code in (302, 400)  # to the login page, or no CSRF
    assert db.session.scalar(db.select(db.func.count()).select_from(Broadcast)) == 4
