"""API keys from the profile page and the CLI; `flask broadcasts list/send`."""
import re

from app.api.models import ApiKey
from app.broadcasts.drafts import create_draft
from app.broadcasts.models import Broadcast
from app.core.extensions import db
from app.core.jobs import get_queue
from app.testing import csrf_token, login


def test_profile_issues_a_key_once_stores_it_hashed_and_revokes_it(boss, network):
    page = boss.get("/network/profile").get_data(as_text=True)
    assert "API keys" in page and "You have no API keys." in page
    token = csrf_token(boss, "/network/profile")
    response = boss.post("/network/profile/api-keys", data={"csrf_token": token, "name": "deploy"})
    assert response.status_code == 201
    secret = re.search(r'id="new-api-key" value="([^"]+)"', response.get_data(as_text=True)).group(1)
    key = db.session.scalars(db.select(ApiKey)).one()
    assert key.key_hash != secret and secret not in (key.key_hash, key.prefix)
    assert secret.startswith(key.prefix)
    assert secret not in boss.get("/network/profile").get_data(as_text=True)  # shown once only

    api = boss.application.test_client()
    assert api.get("/api/v1/broadcasts", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    revoked = boss.post(f"/network/profile/api-keys/{key.id}/revoke",
                        data={"csrf_token": csrf_token(boss, "/network/profile")})
    assert revoked.status_code == 302
    assert api.get("/api/v1/broadcasts", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_key_forms_need_csrf_and_customers_cannot_reach_them(client, network):
    login(client, network.admin)
    assert client.post("/network/profile/api-keys", data={"name": "x"}).status_code == 400
    login(client, network.ann.user)
    assert client.get("/network/profile").status_code == 403
    assert client.post("/network/profile/api-keys", data={"name": "x"}).status_code in (400, 403)
    assert db.session.scalar(db.select(db.func.count()).select_from(ApiKey)) == 0


def test_cli_creates_lists_and_revokes_keys(runner, network):
    result = runner.invoke(args=["api-keys", "create", "--user", "BOSS@example.com", "--name", "ci"])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[0]
    client = runner.app.test_client()
    assert client.get("/api/v1/products", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listed = runner.invoke(args=["api-keys", "list", "--user", "boss@example.com"])
    assert "ci" in listed.output and "active" in listed.output and secret not in listed.output
    key_id = db.session.scalars(db.select(ApiKey.id)).one()
    assert runner.invoke(args=["api-keys", "revoke", str(key_id)]).exit_code == 0
    assert client.get("/api/v1/products", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_cli_refuses_keys_for_customers_and_unknown_users(runner, network):
    result = runner.invoke(args=["api-keys", "create", "--user", "ann@example.com"])
    assert result.exit_code != 0 and "not an active super admin" in result.output
    result = runner.invoke(args=["api-keys", "create", "--user", "nobody@example.com"])
    assert result.exit_code != 0 and "There is no user" in result.output


def test_cli_lists_and_sends_broadcasts(runner, network):
    draft = create_draft(network.admin, {"kind": "email", "subject": "From the CLI", "body_html": "<p>x</p>",
                                         "customer_ids": [network.gus.id], "labels": ["ops"]})
    empty = create_draft(network.admin, {"kind": "notice"})
    db.session.commit()
    listing = runner.invoke(args=["broadcasts", "list", "--kind", "email"])
    assert "From the CLI" in listing.output and f"{empty.id:>6}" not in listing.output

    refused = runner.invoke(args=["broadcasts", "send", str(empty.id)])
    assert refused.exit_code != 0 and "Choose at least one customer or product" in refused.output
    assert runner.invoke(args=["broadcasts", "send", "424242"]).exit_code != 0

    sent = runner.invoke(args=["broadcasts", "send", str(draft.id)])
    assert sent.exit_code == 0 and "queued for delivery" in sent.output
    again = runner.invoke(args=["broadcasts", "send", str(draft.id)])
    assert again.exit_code != 0 and "already sending" in again.output
    assert db.session.get(Broadcast, draft.id).status == "sending" and get_queue("delivery").count == 1
