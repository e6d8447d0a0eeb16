"""End to end in headless Chromium: an admin walks the wizard and publishes a notice to a product;
a customer of that product sees it and dismisses it; a customer of another product never sees it."""

import pytest
from playwright.sync_api import expect

from app.testing import PASSWORD

pytestmark = pytest.mark.browser


def log_in(page, base, email):
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def log_out(page):
    page.click("text=Log out")
    page.wait_for_url("**/login")


def test_admin_publishes_a_product_notice_that_only_its_customers_see(browser, live_server, network):
    page = browser.new_page()
    page.set_default_timeout(15_000)
    log_in(page, live_server, "boss@example.com")
    page.wait_for_url("**/network/")

    page.goto(f"{live_server}/network/broadcasts/new")
    page.check("input[name=kind][value=notice]")
    page.click("button.primary:has-text('Next')")
    page.wait_for_url("**/edit/audience")

    page.check(f"input[name=product_ids][value='{network.starter.id}']")
    page.wait_for_selector("#audience-counts >> text=Saved.")  # auto-saved with fresh counts
    assert page.inner_text("[data-count=customers]") == "4"
    page.fill("#customer_q", "gus")  # search as you type, then add one customer
    page.click("#customer-results button:has-text('Add')")
    page.wait_for_selector("#selected-customers >> text=Gus Nobody")
    expect(page.locator("[data-count=customers]")).to_have_text("5")  # polls without eval (CSP)
    page.click("button.primary:has-text('Next')")
    page.wait_for_url("**/edit/content")

    page.fill("#subject", "Planned maintenance")
    page.fill("#body_html", "<p>Hello {{ customer_first_name }}, we upgrade tonight.</p>")
    page.check("input[name=notice_type][value=warning]")
    page.wait_for_selector("#preview-body >> text=Hello Ann")  # live preview for the sample customer
    page.click("button.primary:has-text('Next')")
    page.wait_for_url("**/edit/when")
    page.click("button.primary:has-text('Next')")
    page.wait_for_url("**/edit/review")
    assert "Planned maintenance" in page.inner_text("#sample")
    page.click("button:has-text('Publish now')")
    page.wait_for_url("**/network/broadcasts/*")
    assert "sent" in page.inner_text(".cards")
    log_out(page)

    log_in(page, live_server, "ann@example.com")
    page.wait_for_url("**/dashboard/")
    notice = page.locator(".dashboard-notice", has_text="Planned maintenance")
    assert notice.count() == 1 and "notice-warning" in notice.get_attribute("class")
    assert "Hello Ann, we upgrade tonight." in notice.inner_text()
    notice.locator("button.dismiss").click()
    page.wait_for_selector(".dashboard-notice", state="detached")
    page.reload()
    assert page.locator(".dashboard-notice").count() == 0  # the dismissal persisted
    log_out(page)

    log_in(page, live_server, "fay@example.com")
    page.wait_for_url("**/dashboard/")
    assert "Fay Business" in page.inner_text("main")
    assert page.locator(".dashboard-notice").count() == 0
    page.close()
