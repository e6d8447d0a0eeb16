"""Domain mapping, the whole path: activate, its e-mail under Import, map a domain, the DNS e-mail."""
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select

from app.core.extensions import db
from app.system_emails.models import SystemEmail, SystemEmailSend
from app.testing import csrf_token, make_customer, make_site
from plugins.domain_mapping.models import DomainMapping

PAGE = "/network/domain-mapping/"


def installed(slug):
    """The installed SystemEmail ``slug``, or None."""
    return db.session.scalar(select(SystemEmail).where(SystemEmail.slug == slug))


def send_statuses(slug):
    """The statuses of e-mail ``slug``'s sends, oldest first, read fresh."""
    db.session.expire_all()
    return list(db.session.scalars(select(SystemEmailSend.status).join(SystemEmail)
                                   .where(SystemEmail.slug == slug).order_by(SystemEmailSend.id)))


def test_activate_import_map_and_the_customer_gets_the_dns_email(network, site, admin_client, worker,
                                                                 smtp_sink):
    worker.work()  # Carol's registration e-mails
    smtp_sink.reset()
    assert admin_client.get(PAGE).status_code == 404  # inactive: no page
    assert "Domain mapping" not in admin_client.get("/network/").get_data(as_text=True)

    token = csrf_token(admin_client, "/network/plugins/")
    admin_client.post("/network/plugins/domain_mapping/activate", data={"csrf_token": token})
    assert f'href="{PAGE}"' in admin_client.get("/network/").get_data(as_text=True)
    assert installed("domain_mapping_created") is None  # never added silently...
    importable = admin_client.get("/network/system-emails/reset-import").get_data(as_text=True)
    assert 'value="domain_mapping_created"' in importable  # ...but listed under Import
    admin_client.post("/network/system-emails/reset-import", data={
        "csrf_token": token, "action": "import", "slug": "domain_mapping_created"})
    assert installed("domain_mapping_created").plugin == "domain_mapping"

    settings = admin_client.get("/network/settings/").get_data(as_text=True)
    assert "Plugin: domain_mapping" in settings and 'name="plugin.domain_mapping.cname_target"' in settings
    response = admin_client.post(PAGE, data={"csrf_token": token, "site": site.id,
                                              "domain": "https://WWW.Carols-Blog.example/"})
    assert response.status_code == 302
    assert db.session.scalar(select(DomainMapping.domain)) == "www.carols-blog.example"
    assert "www.carols-blog.example" in admin_client.get(PAGE).get_data(as_text=True)

    worker.work()
    [message] = smtp_sink.to("carol@example.com")
    assert message.subject == "www.carols-blog.example now points to Carol's blog"
    html = message.message.get_body(("html",)).get_content()
    assert "sites.herald.localhost" in html and "http://herald.test/carol" in html
    assert send_statuses("domain_mapping_created") == ["sent"]


@pytest.mark.herald_plugin("domain_mapping")
def test_mapping_errors_are_field_errors_and_nothing_is_mapped(network, site, admin_client):
    token = csrf_token(admin_client, PAGE)
    for data, message in (({"site": site.id, "domain": "not a domain"}, "is not a valid domain name"),
                          ({"site": 9999, "domain": "ok.example"}, "There is no site with that number."),
                          ({"site": 99999999999, "domain": "ok.example"}, "There is no such number")):
        response = admin_client.post(PAGE, data={"csrf_token": token, **data})
        assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(DomainMapping)) == 0
    ok = admin_client.post(PAGE, data={"csrf_token": token, "site": site.id, "domain": "a.example"})
    assert ok.status_code == 302
    again = admin_client.post(PAGE, data={"csrf_token": token, "site": site.id, "domain": "A.example"})
    assert again.status_code == 400
    assert "a.example is already used by a site." in again.get_data(as_text=True)
    assert db.session.scalars(select(DomainMapping.domain)).all() == ["a.example"]


@pytest.mark.herald_plugin("domain_mapping")
def test_the_limit_per_site_comes_from_the_plugin_setting(network, site, admin_client, herald_plugin):
    import plugins.domain_mapping

    assert herald_plugin.info.module is plugins.domain_mapping  # the module Herald loaded
    with pytest.raises(ValueError, match="must be at least 0"):  # -1 refused every new mapping
        herald_plugin.set_setting("max_domains_per_site", -1)
    herald_plugin.set_setting("max_domains_per_site", 2)
    db.session.commit()
    token = csrf_token(admin_client, PAGE)
    for domain in ("one.example", "two.example"):
        assert admin_client.post(PAGE, data={"csrf_token": token, "site": site.id,
                                             "domain": domain}).status_code == 302
    third = admin_client.post(PAGE, data={"csrf_token": token, "site": site.id, "domain": "three.example"})
    assert third.status_code == 400 and "already has 2 domains" in third.get_data(as_text=True)
    assert sorted(db.session.scalars(select(DomainMapping.domain))) == ["one.example", "two.example"]
    other = make_site(make_customer("dan@example.com", "Dan"), "Dan's shop", path="dan")
    response = admin_client.post(PAGE, data={"csrf_token": token, "site": other.id,
                                              "domain": "three.example"})
    assert response.status_code == 302  # the limit is per site


def test_the_plugin_has_its_own_alembic_branch_and_prefixed_table(app):
    config = app.extensions["migrate"].migrate.get_config()
    revision = ScriptDirectory.from_config(config).get_revision("domain_mapping")
    assert (revision.revision, revision.down_revision, revision.dependencies) == (
        "domain_mapping_0001", None, "0001_core")
    assert "domain_mapping" in revision.branch_labels
    assert DomainMapping.__table__.name.startswith("domain_mapping_")


@pytest.mark.herald_plugin("domain_mapping")
def test_domains_are_idna_2008_as_browsers_look_them_up_and_agree_with_addresses(network, site, admin_client):
    """IDNA 2003 (Python's ``idna`` codec) stored straße.de as strasse.de, another domain, and took
    😀.example.com, the invalid A-label xn--zz.com and ex<U+200B>ample.com (as example.com), which
    the suppression page refuses in an address: one check (app.core.hostnames) serves both."""
    from app.mail.addresses import AddressError, normalise_address

    token = csrf_token(admin_client, PAGE)
    ok = admin_client.post(PAGE, data={"csrf_token": token, "site": site.id, "domain": "Straße.DE"})
    assert ok.status_code == 302
    assert db.session.scalar(select(DomainMapping.domain)) == "xn--strae-oqa.de"
    shown = admin_client.get(PAGE).get_data(as_text=True)
    assert "straße.de (xn--strae-oqa.de) now points to" in shown and "(straße.de)" in shown
    for domain, why in (("😀.example.com", "not a valid domain name"), ("xn--zz.com", "not a valid domain name"),
                        ("ex\u200bample.com", "U+200B ZERO WIDTH SPACE"),
                        ("\u0430pple.com", "mixes scripts in one label (Cyrillic and Latin)"),
                        ("1.2.3.4", "IP address"), ("localhost", "one label")):
        refused = admin_client.post(PAGE, data={"csrf_token": token, "site": site.id, "domain": domain})
        assert refused.status_code == 400 and why in refused.get_data(as_text=True), domain
        with pytest.raises(AddressError):
            normalise_address(f"someone@{domain}")
        page = "/network/suppressions/"
        answer = admin_client.post(page + "add", data={"csrf_token": csrf_token(admin_client, page),
                                                       "email": f"someone@{domain}", "reason": "unsubscribed"})
        assert answer.status_code == 400, domain
    assert db.session.scalars(select(DomainMapping.domain)).all() == ["xn--strae-oqa.de"]


@pytest.mark.herald_plugin("domain_mapping")
def test_the_cname_target_is_a_checked_host_name(network, admin_client, runner):
    """cname_target=<b>x</b> was saved and went into the customers' e-mails."""
    from app.core.settings.services import get_option

    key = "plugin.domain_mapping.cname_target"
    for bad, why in (("<b>x</b>", "not a valid domain name"), ("sites.example\u200b.com", "U+200B"),
                     ("sites", "one label")):
        token = csrf_token(admin_client, "/network/settings/")
        answer = admin_client.post("/network/settings/", data={"csrf_token": token, key: bad})
        assert answer.status_code == 400 and why in answer.get_data(as_text=True), bad
        assert get_option(key) == "sites.herald.localhost"
    token = csrf_token(admin_client, "/network/settings/")
    saved = admin_client.post("/network/settings/", data={"csrf_token": token, key: "Sites.Straße.example."})
    assert saved.status_code == 302
    assert get_option(key) == "sites.xn--strae-oqa.example"
    from app.core.settings.models import Option

    db.session.get(Option, key).value = "<b>x</b>"  # saved before the setting was a host name
    db.session.commit()
    listed = runner.invoke(args=["check", "--no-addresses"]).output
    assert f"setting {key} to fix on the Settings page: CNAME target customers point their domains to " \
           "'<b>x</b>' is not a valid domain name" in listed
