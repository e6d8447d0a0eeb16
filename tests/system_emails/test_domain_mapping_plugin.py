"""The bundled add-on plugin, the whole path: activate -> its e-mail under Import -> map a domain -> mail."""
from alembic.script import ScriptDirectory
from sqlalchemy import select

from app.core.extensions import db
from app.network.models import Site
from plugins.domain_mapping.models import DomainMapping

from sysemail_helpers import email, sends
from app.testing import csrf_token


def test_activate_import_map_and_the_customer_gets_the_dns_email(network, customer, admin_client,
                                                                 worker, smtp_sink):
    worker.work()
    smtp_sink.messages.clear()
    assert admin_client.get("/network/domain-mapping/").status_code == 404  # inactive: no page
    assert "Domain mapping" not in admin_client.get("/network/").get_data(as_text=True)

    token = csrf_token(admin_client, "/network/plugins/")
    admin_client.post("/network/plugins/domain_mapping/activate", data={"csrf_token": token})
    assert 'href="/network/domain-mapping/"' in admin_client.get("/network/").get_data(as_text=True)
    assert email("domain_mapping_created") is None  # never added silently...
    importable = admin_client.get("/network/system-emails/reset-import").get_data(as_text=True)
    assert 'value="domain_mapping_created"' in importable  # ...but listed under Import
    admin_client.post("/network/system-emails/reset-import", data={
        "csrf_token": token, "action": "import", "slug": "domain_mapping_created"})

    settings = admin_client.get("/network/settings/").get_data(as_text=True)
    assert "Plugin: domain_mapping" in settings and 'name="plugin.domain_mapping.cname_target"' in settings
    site = db.session.scalar(select(Site).where(Site.title == "Carol's blog"))
    response = admin_client.post("/network/domain-mapping/", data={
        "csrf_token": token, "site": site.id, "domain": "https://WWW.Carols-Blog.example/"})
    assert response.status_code == 302
    assert db.session.scalar(select(DomainMapping.domain)) == "www.carols-blog.example"
    worker.work()
    [message] = smtp_sink.to("carol@example.com")
    assert message.message["subject"] == "www.carols-blog.example now points to Carol's blog"
    html = message.message.get_body(("html",)).get_content()
    assert "sites.herald.localhost" in html and "http://herald.test/carol" in html
    assert [s.status for s in sends("domain_mapping_created")] == ["sent"]


def test_mapping_errors_are_field_errors(network, customer, admin_client):
    from app.plugins.services import activate

    activate("domain_mapping")
    token = csrf_token(admin_client, "/network/domain-mapping/")
    site = db.session.scalar(select(Site))
    for data, message in (({"site": site.id, "domain": "not a domain"}, "Enter a domain such as"),
                          ({"site": 9999, "domain": "ok.example"}, "There is no site with that number.")):
        response = admin_client.post("/network/domain-mapping/", data={"csrf_token": token, **data})
        assert response.status_code == 400 and message in response.get_data(as_text=True)
    admin_client.post("/network/domain-mapping/", data={"csrf_token": token, "site": site.id, "domain": "a.example"})
    again = admin_client.post("/network/domain-mapping/", data={"csrf_token": token, "site": site.id, "domain": "A.example"})
    assert "a.example is already used by a site." in again.get_data(as_text=True)


def test_the_plugin_has_its_own_alembic_branch_and_prefixed_table(app):
    from flask import current_app

    config = current_app.extensions["migrate"].migrate.get_config()
    script = ScriptDirectory.from_config(config)
    revision = script.get_revision("domain_mapping")
    assert (revision.revision, revision.down_revision, revision.dependencies) == (
        "domain_mapping_0001", None, "0001_core")
    assert "domain_mapping" in revision.branch_labels
    assert DomainMapping.__table__.name.startswith("domain_mapping_")
