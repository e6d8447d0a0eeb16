"""Sanitisation against XSS payloads, placeholder safety, and the live preview."""
import re
from html.parser import HTMLParser

import pytest

from app.broadcasts.drafts import DraftError, create_draft, update_draft
from app.broadcasts.models import Broadcast
from app.broadcasts.sending import send_now
from app.core.extensions import db
from app.testing import login

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<img src=\"javascript:alert(1)\">",
    "<a href=\"javascript:alert(1)\">click</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">click</a>",
    "<a href=\"jav&#x09;ascript:alert(1)\">click</a>",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "<svg onload=alert(1)><circle r=1></svg>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><img src=x onerror=alert(1)></mtext></math>",
    "<iframe src=\"https://evil.example\"></iframe>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=\"javascript:alert(1)\">",
    "<body onload=alert(1)>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<div style=\"width: expression(alert(1))\">x</div>",
    "<p onmouseover=\"alert(1)\">hover</p>",
    "<form action=\"javascript:alert(1)\"><button>go</button></form>",
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=\"javascript:alert(1)//\">",
    "<style>@import 'https://evil.example/x.css';</style>",
    "<link rel=stylesheet href=https://evil.example/x.css>",
    "<!--<script>alert(1)</script>-->",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<a href=\" javascript:alert(1)\">x</a>",
    "<table background=\"javascript:alert(1)\"><tr><td>x</td></tr></table>",
    "<img src=x:alert(1) onerror=eval(src)>",
    "\"><script>alert(1)</script>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
]
FORBIDDEN_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "form", "input", "button", "meta",
                  "base", "link", "style", "body", "noscript", "details"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "background", "data", "poster"}
BAD_SCHEME = re.compile(r"\s*(javascript|vbscript|data):", re.I)
BAD_CSS = re.compile(r"expression\s*\(|javascript:|url\s*\(", re.I)


class DangerFinder(HTMLParser):
    """Parses HTML like a browser would (entities decoded) and lists what could run code."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []

    def handle_starttag(self, tag, attrs):
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"{name}=")
            if name in URL_ATTRIBUTES and BAD_SCHEME.match(value):
                self.problems.append(f"{name}={value}")
            if name == "style" and BAD_CSS.search(value):
                self.problems.append(f"style={value}")


def assert_safe(html):
    finder = DangerFinder()
    finder.feed(html)
    assert finder.problems == [], f"dangerous markup left: {finder.problems} in {html!r}"


def test_payloads_are_removed_on_save_and_never_reach_the_dashboard(client, network):
    for number, payload in enumerate(XSS_PAYLOADS):
        broadcast = create_draft(network.admin, {
            "kind": "notice", "subject": f"XSS {number}", "customer_ids": [network.ann.id],
            "body_html": f"<p>before {number}</p>{payload}<p>after {number}</p>"})
        assert_safe(broadcast.body_html)
        assert f"<p>after {number}</p>" in broadcast.body_html, payload
        send_now(broadcast)
    db.session.commit()
    login(client, network.ann.user)
    page = client.get("/dashboard/").get_data(as_text=True)
    for number, payload in enumerate(XSS_PAYLOADS):
        shown = page[page.index(f"<p>before {number}</p>"):page.index(f"<p>after {number}</p>")]
        assert_safe(shown)


def test_wizard_saves_sanitised_html(wizard, network):
    wizard.start("email")
    wizard.post("audience", {"add_customer_ids": [network.gus.id]})
    body = "".join(XSS_PAYLOADS) + '<p><a href="https://ok.example">ok</a></p>'
    response = wizard.post("content", {"subject": "S", "timezone": "UTC", "body_html": body})
    assert response.status_code == 302
    body = db.session.get(Broadcast, wizard.broadcast_id).body_html
    assert_safe(body)
    assert '<a href="https://ok.example">ok</a>' in body


@pytest.mark.parametrize("body, message", [
    ('<a href="{{ customer_name }}">x</a>', "cannot start a link"),
    ("<img src='{{ customer_email }}'>", "cannot start a link"),
    ('<p style="color: {{ customer_name }}">x</p>', "style attributes"),
    ("<p>{{ customer_nickname }}</p>", "Unknown placeholder {{ customer_nickname }}"),
])
def test_placeholders_where_a_customer_value_could_inject_code_are_field_errors(network, body, message):
    broadcast = create_draft(network.admin, {"kind": "notice"})
    with pytest.raises(DraftError) as error:
        update_draft(broadcast, {"body_html": body})
    assert message in error.value.errors["body_html"]


def test_placeholders_after_a_fixed_scheme_and_url_placeholders_are_fine(network):
    broadcast = create_draft(network.admin, {"kind": "email", "body_html":
                             '<a href="https://shop.example/?who={{ customer_email }}">a</a> '
                             '<a href="{{ site_url }}">b</a> <a href="{{ unsubscribe_url }}">c</a>'})
    assert broadcast.body_html.count("{{") == 3


def test_live_preview_sanitises_and_renders_for_the_sample_customer(wizard, network):
    wizard.start("notice")
    wizard.post("audience", {"product_ids": [network.starter.id], "product_statuses": ["active"]})
    url = f"/network/broadcasts/{wizard.broadcast_id}/preview"
    token = wizard.token(wizard.url("content"))
    response = wizard.client.post(url, data={"csrf_token": token, "subject": "Hi {{ customer_first_name }}",
                                             "body_html": "<p>{{ customer_email }}</p><script>x</script>",
                                             "notice_type": "error"})
    data = response.get_json()
    assert response.status_code == 200 and data["subject"] == "Hi Ann"
    assert "<p>ann@example.com</p>" in data["html"] and "<script" not in data["html"]
    assert "notice-error" in data["html"]
    bad = wizard.client.post(url, data={"csrf_token": token, "subject": "{{ x }}", "body_html": ""})
    assert bad.status_code == 400 and "subject" in bad.get_json()["fields"]
    assert wizard.client.post(url, data={"subject": "x"}).status_code == 400  # CSRF
    assert db.session.get(Broadcast, wizard.broadcast_id).subject == ""  # preview saves nothing
