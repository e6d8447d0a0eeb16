"""Every admin page in headless Chromium on a 375 px wide phone: nothing scrolls sideways (wide
tables scroll inside their own labelled, focusable region), and axe-core finds no violation."""
import re
from datetime import datetime

import pytest
from axe_playwright_python.base import AXE_SCRIPT

from app.billing.services import record_payment
from app.broadcasts.models import BroadcastRun
from app.core.extensions import db
from app.core.jobs import enqueue_now
from app.core.utils import utcnow
from app.delivery.jobs import plan_run
from app.mail.suppression import Suppression
from app.plugins.network_setup import setup_network
from app.scheduling.rules import RuleSpec
from app.scheduling.services import save_schedule
from app.system_emails.models import SystemEmail
from app.testing import PASSWORD, make_broadcast, make_customer, make_product, make_site, make_user

pytestmark = [pytest.mark.browser, pytest.mark.herald_plugin("domain_mapping")]
PHONE = {"width": 375, "height": 740}
LONG_ADDRESS = "first.middle.lastname-with-a-long-tail@mail.subdomain.a-very-long-company-name.example"
LONG_WORD = "Supercalifragilisticexpialidocious-announcement-for-everyone-on-the-network"
# GET routes under /network that are not pages a person opens (JSON, CSV, frames, fragments).
NOT_PAGES = re.compile(r"(\.json|\.csv|/search/|/mail-frame/|/api/v1/|/scheduling/preview)")


# The innermost elements that reach past the screen outside a scrolling box (to say what is too wide).
WIDE_ELEMENTS = """() => [...document.querySelectorAll("body *")].filter(el =>
  el.getBoundingClientRect().right > innerWidth + 1
  && ![...el.children].some(child => child.getBoundingClientRect().right > innerWidth + 1)
  && !el.parentElement.closest("[data-scroll-region]"))
  .slice(0, 5).map(el => `${el.tagName.toLowerCase()}.${el.className} ${el.textContent.trim().slice(0, 40)}`)
"""
REPEATED_IDS = """() => { const seen = {};
  document.querySelectorAll("[id]").forEach(el => seen[el.id] = (seen[el.id] || 0) + 1);
  return Object.keys(seen).filter(id => seen[id] > 1); }"""


def seed():
    """A small network with long addresses and words in every list; returns the ids routes need."""
    admin = make_user("boss@example.com", super_admin=True, name="Boss Admin")
    setup_network()  # Core e-mails active, its e-mails installed
    product = make_product("starter", f"Starter {LONG_WORD}", mailing_by=admin)
    people = [make_customer(f"{i}.{LONG_ADDRESS}", f"Customer {i} {LONG_WORD}", product, login=i == 0)
              for i in range(3)]
    for person in people:
        make_site(person, f"{person.name}'s site", domain=f"{person.id}.sites.{LONG_WORD.lower()}.test")
    for person in people:
        record_payment(person, "12.50", reference=f"REF-{LONG_WORD}")
        db.session.add(Suppression(email=f"x{person.id}.{LONG_ADDRESS}", reason="bounced",
                                   source="test", detail=f"550 {LONG_WORD}"))
    sent = make_broadcast(admin, "email", f"Hello {{{{ customer_name }}}} {LONG_WORD}",
                          f"<p>{LONG_WORD} {LONG_WORD}</p>", people, commit=False)
    sent.status = "sending"
    run = BroadcastRun(broadcast_id=sent.id, occurrence_at=utcnow(), status="planning")
    draft = make_broadcast(admin, "email", f"Draft {LONG_WORD}", f"<p>{LONG_WORD}</p>", people,
                           commit=False)
    draft.wizard_step = "review"  # every step can be opened
    scheduled = make_broadcast(admin, "email", f"Daily {LONG_WORD}", f"<p>{LONG_WORD}</p>", people,
                               commit=False)
    scheduled.status = "scheduled"
    save_schedule(scheduled, RuleSpec("daily", start=datetime(2099, 1, 1, 9)))
    db.session.add(run)
    db.session.commit()
    enqueue_now(plan_run, run.id, queue="delivery")
    return {"broadcast_id": draft.id, "sent_id": sent.id, "run_id": run.id, "customer_id": people[0].id,
            "scheduled_id": scheduled.id,
            "email_id": db.session.scalars(db.select(SystemEmail.id)).first()}


def admin_pages(app, ids):
    """The URL of every admin page: each GET route under /network (every wizard step), with the
    seeded ids for its arguments. A caught message's page is left out: nothing is caught here."""
    from app.broadcasts.steps import BROADCAST_WIZARD

    adapter = app.url_map.bind("localhost")
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if ("GET" not in rule.methods or not rule.rule.startswith("/network") or NOT_PAGES.search(rule.rule)
                or "key" in rule.arguments):
            continue
        values = {**ids, "slug": "domain_mapping"}
        if rule.rule.startswith("/network/scheduling/"):
            values["broadcast_id"] = ids["scheduled_id"]
        if "run_id" in rule.arguments:
            values["broadcast_id"] = ids["sent_id"]
        for step in BROADCAST_WIZARD.steps if "step" in rule.arguments else [None]:
            values["step"] = step and step.name
            yield adapter.build(rule.endpoint, {name: values[name] for name in rule.arguments})


def phone_page(browser, base):
    """A 375 px wide page of a new Chromium tab, logged in as boss@example.com."""
    page = browser.new_page(viewport=PHONE)
    page.set_default_timeout(15_000)
    page.goto(f"{base}/login")
    page.fill("#email", "boss@example.com")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/network/")
    return page


def test_every_admin_page_fits_a_phone_and_passes_axe(app, browser, live_server, herald_plugin, worker,
                                                       smtp_sink):
    ids = seed()
    worker.work(queues=("delivery",))
    pages = list(admin_pages(app, ids))
    assert {"/network/broadcasts/", "/network/suppressions/", "/network/audit/", "/network/payments/",
            "/network/customers", f"/network/broadcasts/{ids['broadcast_id']}/edit/when"} <= set(pages)
    page = phone_page(browser, live_server)
    wide, problems = {}, {}
    for path in pages:
        response = page.goto(live_server + path)
        assert response.ok, (path, response.status)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            wide[path] = (width, page.evaluate(WIDE_ELEMENTS))
        found = accessibility_problems(page)
        if found:
            problems[path] = found
    assert not wide, wide
    assert not problems, problems


def test_a_field_error_is_announced_in_chromium(browser, live_server, app):
    admin = make_user("boss@example.com", super_admin=True)
    draft = make_broadcast(admin, "email", "Hello", "<p>Hi</p>", commit=False)
    draft.wizard_step = "review"
    db.session.commit()
    page = phone_page(browser, live_server)
    page.goto(f"{live_server}/network/broadcasts/{draft.id}/edit/content")
    page.fill("#subject", "Hi {{ nope }}")
    page.click("button.primary:has-text('Next')")
    page.wait_for_selector("[data-error-summary]")
    assert page.title().startswith("Error: ")
    assert page.evaluate("document.activeElement.hasAttribute('data-error-summary')")  # focus moved there
    described = page.get_attribute("#subject", "aria-describedby").split()
    assert described == ["subject-help", "subject-error"] and "nope" in page.inner_text("#subject-error")
    page.click("[data-error-summary] a[href='#subject']")
    assert page.evaluate("document.activeElement.id") == "subject"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not accessibility_problems(page)


def accessibility_problems(page) -> list:
    """axe-core's violations on the page (WCAG A and AA, best practices) and repeated ids."""
    page.evaluate(AXE_SCRIPT)
    result = page.evaluate("axe.run({resultTypes: ['violations']})")
    found = [(v["id"], [node["target"] for node in v["nodes"]][:3]) for v in result["violations"]]
    repeated = page.evaluate(REPEATED_IDS)  # axe 4.7+ no longer checks ids
    return found + ([("duplicate-id", repeated)] if repeated else [])
