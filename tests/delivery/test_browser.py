"""The run page in headless Chromium: figures update in place while the run sends (no reload)."""
import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from app.broadcasts.models import BroadcastRun
from app.delivery.jobs import plan_run
from app.delivery.models import Delivery
from app.core.jobs import enqueue_now
from app.testing import make_user

from .conftest import add_customers, make_run


@pytest.mark.browser
def test_progress_updates_live_without_reload(app, db, smtp_sink, product, live_server, browser, jobs):
    make_user("root@example.com", super_admin=True)
    add_customers([(f"b{i:02d}@example.com", "B") for i in range(12)], product)
    run = make_run(products=[product])
    run_id, broadcast_id = run.id, run.broadcast_id
    enqueue_now(plan_run, run_id, queue="delivery")
    jobs.work(max_jobs=1)  # planned and sending, nothing sent yet
    base = live_server
    page = browser.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=email]", "root@example.com")
    page.fill("input[name=password]", "password123")
    page.click("button[type=submit]")
    page.goto(f"{base}/network/broadcasts/{broadcast_id}/runs/{run_id}")
    assert page.text_content('[data-field="sent"]') == "0"
    assert page.is_hidden("[data-hide-with-js]")
    page.evaluate("window.notReloaded = true")

    ids = db.session.scalars(select(Delivery.id).where(Delivery.run_id == run_id)
                             .order_by(Delivery.id).limit(5)).all()
    db.session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(status="sent"))
    db.session.commit()  # five recipients done, as a worker would record them
    # expect() polls without eval, which the Content-Security-Policy forbids in the page
    expect(page.locator("[data-field=sent]")).to_have_text("5", timeout=30000)
    assert page.evaluate("window.notReloaded") is True
    assert page.text_content('[data-count="queued"]') == "7"
    assert page.get_attribute("progress", "max") == "12"

    jobs.work()  # the rest is sent; the finished run reloads to show its final state
    page.wait_for_selector("text=Finished", timeout=30000)
    assert page.text_content('[data-field="sent"]') == "12"
    assert db.session.get(BroadcastRun, run_id).status == "sent"
