"""Headless Chromium: edit an e-mail, watch the live preview change, send a test that arrives."""

import pytest

from sysemail_helpers import email

playwright = pytest.importorskip("playwright.sync_api")
@pytest.fixture
def browser_page(browser):
    page = browser.new_page()
    page.set_default_timeout(10_000)
    return page


@pytest.mark.browser
def test_edit_preview_and_send_a_test_in_chromium(network, live_server, browser_page, worker, smtp_sink):
    page = browser_page
    expect = playwright.expect
    email_id = email("welcome").id
    page.goto(f"{live_server}/login")
    page.fill("#email", "admin@example.com")
    page.fill("#password", "password123")
    page.click("button[type=submit]")
    page.goto(f"{live_server}/network/system-emails/{email_id}")
    expect(page.locator("button[value=preview]")).to_be_hidden()  # live preview replaces the button

    page.fill("#subject", "Hello {{ customer_first_name }} from ")
    page.locator("#subject").press("End")
    page.click("button.placeholder[data-insert='{{ network_name }}']")  # inserted at the cursor
    expect(page.locator("#preview-subject")).to_have_text("Hello Jane from Herald Network")

    page.fill("#body", "<p>Edited in Chromium for {{ customer_name }}</p>")
    preview = page.frame_locator("#preview-frame")
    expect(preview.locator("text=Edited in Chromium for Jane Doe")).to_be_visible()

    page.fill("#body", "<p>{{ coupon }}</p>")
    expect(page.locator("#preview-errors")).to_contain_text("Unknown placeholder {{ coupon }}")
    page.fill("#body", "<p>Edited in Chromium for {{ customer_name }}</p>")
    expect(page.locator("#preview-errors")).to_be_empty()

    page.fill("#test_address", "browser@example.org")
    page.click("button[value=test]")
    expect(page.locator(".flashes")).to_contain_text("A test was queued for browser@example.org")
    worker.work()
    [message] = smtp_sink.to("browser@example.org")
    assert message.message["subject"] == "Hello Jane from Herald Network"
    assert "Edited in Chromium for Jane Doe" in message.message.get_body(("html",)).get_content()
