"""The published OpenAPI description of /api/v1 stays true: every registered rule is described."""
import re

from app.api.keys import issue_key
from app.api.openapi import SPEC
from app.core.extensions import db

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _registered(app) -> dict:
    """{OpenAPI path: methods} of every Flask rule under /api/v1."""
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule[len("/api/v1"):])
            routes.setdefault(path, set()).update(rule.methods - IGNORED_METHODS)
    return routes


def test_every_api_rule_and_method_is_described_and_nothing_else(app):
    described = {path: {m.upper() for m in methods} for path, methods in SPEC["paths"].items()}
    assert _registered(app) == described


def test_the_description_is_served_with_a_key(client, admin):
    _, secret = issue_key(admin, "docs")
    db.session.commit()
    assert client.get("/api/v1/openapi.json").status_code == 401
    answer = client.get("/api/v1/openapi.json", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200 and answer.get_json()["openapi"].startswith("3.")
    assert "/broadcasts/{broadcast_id}/schedule/{action}" in answer.get_json()["paths"]
