"""In Chromium, under the real Content-Security-Policy: no page of the admin trips it (inline
styles of the mail preview included, in its sandboxed frame), and the live preview still follows."""
import pytest
from playwright.sync_api import expect

from app.broadcasts.drafts import create_draft
from app.core.extensions import db
from app.testing import make_user

pytestmark = pytest.mark.browser
RED = "rgb(200, 0, 0)"


def test_admin_pages_and_previews_work_under_the_policy(browser, live_server, app):
    admin = make_user("boss@example.com", super_admin=True)
    draft = create_draft(admin, {"kind": "email", "subject": "Hello",
                                 "body_html": f'<p style="color: {RED}">Red news</p>'})
    draft.wizard_step = "review"  # every step can be opened
    db.session.commit()
    page = browser.new_page()
    page.set_default_timeout(15_000)
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: violations.append(str(error)))
    page.goto(f"{live_server}/login")
    page.fill("#email", "boss@example.com")
    page.fill("#password", "password123")
    page.click("button[type=submit]")
    page.wait_for_url("**/network/")

    for path in ("/network/", "/network/broadcasts/", "/network/audit/", "/network/settings/",
                 "/network/profile", f"/network/broadcasts/{draft.id}/edit/review"):
        page.goto(live_server + path)
    page.goto(f"{live_server}/network/broadcasts/{draft.id}/edit/content")
    frame = page.locator("iframe[data-preview=html]")
    first = frame.get_attribute("src")
    assert first.startswith("/network/mail-frame/") and frame.get_attribute("sandbox") == ""
    shown = page.request.get(live_server + first)
    assert "Red news" in shown.text() and "sandbox" in shown.headers["content-security-policy"]

    page.fill("#body_html", f'<p style="color: {RED}">Fresh words</p>')  # the live preview follows
    expect(frame).not_to_have_attribute("src", first)
    assert "Fresh words" in page.request.get(live_server + frame.get_attribute("src")).text()
    page.wait_for_timeout(500)  # let the frame load: a blocked inline style would be reported
    assert violations == [], violations

    page.goto(f"{live_server}/network/profile")  # a new key's secret is selected on focus (no inline JS)
    page.fill("input[name=name]", "deploy")
    page.click("button:has-text('Create')")
    page.wait_for_load_state()  # herald.js (deferred) listens for the focus only once it has run
    page.focus("#new-api-key")
    assert page.evaluate("document.getSelection().toString() || "
                         "document.activeElement.selectionEnd - document.activeElement.selectionStart") not in (0, "")
    assert violations == [], violations
