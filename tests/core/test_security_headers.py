"""Security headers on every response, templates a strict CSP can run, and e-mail previews in
sandboxed frames of their own."""
import re
from pathlib import Path

import pytest
from flask import g

from app.testing import csrf_token, login

ROOT = Path(__file__).resolve().parents[2]
# Mail documents (what recipients get, shown in the admin only inside preview frames).
MAIL_TEMPLATES = {"templates/mail/layout.html"}
INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "event-handler attribute": re.compile(r"<[^>]+\s on[a-z]+\s*=", re.I | re.X),
    "javascript: URL": re.compile(r"javascript:", re.I),
    "style element": re.compile(r"<style[\s>]", re.I),
    "srcdoc frame (inherits the page's policy)": re.compile(r"\bsrcdoc\s*=", re.I),
}


def _csp(response) -> dict:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/login", "/network/", "/network/audit/", "/network/profile",
                                  "/network/settings/", "/nothing-here", "/static/herald.js"])
def test_every_response_carries_the_headers(admin_client, path):
    response = admin_client.get(path)
    csp = _csp(response)
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in response.headers  # not in development


def test_production_sends_hsts_on_https(make_app):
    production = make_app(PRODUCTION=True)
    with production.app_context():
        response = production.test_client().get("/login", base_url="https://herald.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "secure" in response.headers["Set-Cookie"].lower() or "Set-Cookie" not in response.headers


def _templates():
    for folder in ("templates", "plugins"):
        for path in sorted((ROOT / folder).rglob("*.html")):
            name = str(path.relative_to(ROOT))
            if name not in MAIL_TEMPLATES:
                yield name


@pytest.mark.parametrize("name", list(_templates()))
def test_no_template_needs_what_the_policy_forbids(name):
    source = (ROOT / name).read_text()
    found = [kind for kind, pattern in INLINE.items() if pattern.search(source)]
    assert not found, f"{name} has {', '.join(found)}: move it to a file in app/static/"


def test_no_static_script_builds_code_from_strings():
    for path in (ROOT / "app" / "static").glob("*.js"):
        source = path.read_text()
        assert not re.search(r"\beval\(|new Function\(|setTimeout\(\s*['\"]|setAttribute\(\s*['\"]on", source), path


def _frame_url(page: str) -> str:
    match = re.search(r'<iframe[^>]*\bsandbox=""[^>]*\bsrc="(/network/mail-frame/[0-9a-f]{40})"', page)
    assert match, "no sandboxed mail frame on the page"
    return match.group(1)


def test_mail_previews_are_sandboxed_documents_with_a_policy_of_their_own(app, committed, admin_client, customer):
    from app.core.extensions import db
    from app.system_emails.models import SystemEmail
    from app.plugins.network_setup import setup_network

    setup_network()  # activates Core e-mails: committed data, read by the plugin host
    db.session.commit()
    email = db.session.scalars(db.select(SystemEmail).where(SystemEmail.slug == "welcome")).one()
    page = admin_client.get(f"/network/system-emails/{email.id}").get_data(as_text=True)
    frame = admin_client.get(_frame_url(page))
    assert frame.status_code == 200 and frame.mimetype == "text/html"
    csp = _csp(frame)
    assert csp["default-src"] == ["'none'"] and "sandbox" in csp and csp["frame-ancestors"] == ["'self'"]
    assert csp["style-src"] == ["'unsafe-inline'"] and "script-src" not in csp
    assert csp["img-src"] == csp["font-src"] == ["'self'", "data:"]  # nothing remote loads
    assert frame.headers["X-Frame-Options"] == "SAMEORIGIN"
    g.pop("_login_user", None)  # tests share one app context, so one ``g``
    assert login(app.test_client(), customer.user).get(_frame_url(page)).status_code == 403
    g.pop("_login_user", None)
    live = admin_client.post(f"/network/system-emails/{email.id}/preview", data={
        "csrf_token": csrf_token(admin_client, f"/network/system-emails/{email.id}"),
        "subject": "Hi", "body": "<p>Live <b>body</b></p>", "style": "html"})
    assert "Live <b>body</b>" in admin_client.get(live.json["frame_url"]).get_data(as_text=True)
    assert admin_client.get("/network/mail-frame/" + "0" * 40).status_code == 404
