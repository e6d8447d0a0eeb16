"""The complete example plugin in docs/plugins.md works as documented, migration included."""
import re
import sys
from pathlib import Path

import pytest

from app import create_app
from app.core.extensions import db
from app.testing import csrf_token, login

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def _example_files():
    text = DOC.read_text()
    blocks = re.findall(r"`(plugins/site_notes/[^`]+)`:\n\n```\w+\n(.*?)```", text, re.S)
    return {path: code for path, code in blocks}


@pytest.fixture
def example_app(tmp_path, redis_client, redis_database):
    files = _example_files()
    assert set(files) == {"plugins/site_notes/__init__.py", "plugins/site_notes/templates/notes.html",
                          "plugins/site_notes/migrations/versions/site_notes_0001.py"}
    for path, code in files.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code)
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": str(tmp_path),
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'example.db'}",
                      "REDIS_URL": redis_database.url, "HERALD_PREFIX": "herald-test",
                      "PLUGINS_DIR": str(tmp_path / "plugins")})
    yield app
    with app.app_context():
        db.engine.dispose()
    db.metadata.remove(db.metadata.tables["site_notes_notes"])  # keep the shared metadata clean
    sys.modules.pop("herald_plugin_site_notes", None)


def test_documented_example_plugin_runs(example_app):
    assert example_app.extensions["herald_plugins"].plugins["site_notes"].error is None
    runner = example_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with example_app.app_context():
        assert "site_notes_notes" in db.inspect(db.engine).get_table_names()
        from app.auth.services import create_user
        from app.network.models import Customer, Site
        admin = create_user("a@example.com", "password123", super_admin=True)
        customer = Customer(email="c@example.com", name="C")
        db.session.add_all([customer, Site(customer=customer, title="Shop", path="shop")])
        db.session.commit()
        admin_id = admin.id
    assert runner.invoke(args=["plugins", "activate", "site_notes"]).exit_code == 0
    client = login(example_app.test_client(), admin_id)
    page = client.get("/network/site-notes/").get_data(as_text=True)
    assert "Shop" in page and "Note:" in page and "Site notes" in page
    response = client.post("/network/site-notes/", data={
        "csrf_token": csrf_token(client, "/network/site-notes/"), "site_id": "1", "text": "VIP"})
    assert response.status_code == 302
    assert 'value="VIP"' in client.get("/network/site-notes/").get_data(as_text=True)
