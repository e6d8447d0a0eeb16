"""The delivery engine seen from the rest of Herald: API keys, the broadcast page and list."""
from app.api.keys import issue_key
from app.core.extensions import db
from app.testing import login, make_user

from .conftest import add_customers, make_run, send_now_to


def test_run_api_needs_an_api_key_and_controls_the_run(app, client, smtp_sink, product, jobs):
    add_customers([("a@example.com", "A"), ("b@example.com", "B")], product)
    run = make_run(products=[product])
    jobs.start(run)
    admin = make_user("ops@example.com", super_admin=True)
    _, secret = issue_key(admin, "ops")
    db.session.commit()
    url = f"/api/v1/delivery/runs/{run.id}"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    data = client.get(url, headers={"Authorization": f"Bearer {secret}"}).get_json()
    assert data["status"] == "sent" and data["counts"]["sent"] == 2
    refused = client.post(f"{url}/pause", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 409 and "error" in refused.get_json()


def test_broadcast_page_and_list_show_sent_counts_and_link_the_run_report(app, client, smtp_sink, product,
                                                                         jobs):
    add_customers([("a@example.com", "A"), ("b@example.com", "B"), ("c@example.com", "C")], product)
    run = make_run(products=[product])
    jobs.start(run)
    admin = make_user("ops@example.com", super_admin=True)
    login(client, admin)
    broadcast_id = run.broadcast_id
    listing = client.get("/network/broadcasts/").get_data(as_text=True)
    assert ">3<" in listing.replace(" ", "")
    page = client.get(f"/network/broadcasts/{broadcast_id}").get_data(as_text=True)
    assert f"/network/broadcasts/{broadcast_id}/runs/{run.id}" in page and "3 sent of 3" in page
    report = client.get(f"/network/broadcasts/{broadcast_id}/runs/{run.id}").get_data(as_text=True)
    assert "Engagement" in report and "<svg" in report


def test_the_broadcast_page_counts_what_a_cancelled_run_sent(app, client, smtp_sink, product, jobs):
    """A run's own sent and failed are written only when it finishes; a run cancelled (or still
    sending, or paused) is counted from the ledger's live counters."""
    add_customers([("a@example.com", "A"), ("b@example.com", "B")], product)
    run = make_run(products=[product])
    jobs.start(run)
    run.status, run.sent = "cancelled", 0  # as a cancel after these messages leaves the run's row
    db.session.commit()
    login(client, make_user("ops@example.com", super_admin=True))
    page = client.get(f"/network/broadcasts/{run.broadcast_id}").get_data(as_text=True)
    assert "cancelled · 2 sent of 2" in " ".join(page.split())


def test_send_now_from_the_broadcasts_domain_reaches_the_smtp_server(app, smtp_sink, product, jobs):
    """The whole path: Send (broadcasts) -> plan_run -> chunks -> SMTP, through a real worker."""
    add_customers([("a@example.com", "Ann"), ("b@example.com", "Bob")], product)
    run = send_now_to(product, "Hi {{ customer_first_name }}")
    jobs.work()
    db.session.refresh(run)
    assert run.status == "sent" and run.sent == 2
    assert sorted(address for m in smtp_sink.messages for address in m.rcpt_tos) == [
        "a@example.com", "b@example.com"]
    assert {m.message["Subject"] for m in smtp_sink.messages} == {"Hi Ann", "Hi Bob"}
