"""The audit log: who changed what, from the web, the API and the CLI, in the change's own
transaction; its page, filters, CSV export and command; plugins' entries; nothing can change it."""
import csv
import io
import textwrap
from datetime import date, timedelta

import pytest
from flask import g
from sqlalchemy import delete, select, text, update

from app.api.keys import issue_key
from app.audit.models import AppendOnlyError, AuditEntry
from app.audit.services import AuditFilters, record
from app.core.extensions import db
from app.core.utils import utcnow
from app.network.models import Product
from app.testing import audit_entries, csrf_token, login, make_user, served_get, write_plugin


def _entries(db, **where):
    return audit_entries(**where)


@pytest.fixture
def product(db):
    item = Product(slug="pro", name="Pro plan", kind="plan")
    db.session.add(item)
    db.session.commit()
    return item


def test_web_api_and_cli_changes_name_their_actor(app, db, admin, admin_client, runner, product):
    key, secret = issue_key(admin, "deploy")
    db.session.commit()
    # API: who granted mailing permission on that product?
    response = app.test_client().post(f"/api/v1/products/{product.id}/mailing-permission",
                                      headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    (granted,) = _entries(db, action="product.mailing_granted")
    assert (granted.actor_kind, granted.actor_id, granted.object_type, granted.object_id) == \
        ("api", admin.id, "product", str(product.id))
    assert admin.email in granted.actor and key.prefix in granted.actor and granted.object_label == "Pro plan"
    # web: who revoked that key?
    g.pop("_login_user", None)
    token = csrf_token(admin_client, "/network/profile")
    assert admin_client.post(f"/network/profile/api-keys/{key.id}/revoke",
                             data={"csrf_token": token}).status_code == 302
    (revoked,) = _entries(db, action="api_key.revoked")
    assert (revoked.actor_kind, revoked.actor, revoked.object_id) == ("web", admin.email, str(key.id))
    assert revoked.ip == "127.0.0.1" and key.prefix in revoked.summary
    # CLI
    result = runner.invoke(args=["api-keys", "create", "--user", admin.email, "--name", "ci"])
    assert result.exit_code == 0, result.output
    created = _entries(db, action="api_key.created")[-1]
    assert created.actor_kind == "cli" and created.actor.startswith("cli:") and "ci" in created.summary


def test_settings_and_system_email_changes_say_what_changed(db, admin_client):
    token = csrf_token(admin_client, "/network/settings/")
    response = admin_client.post("/network/settings/", data={
        "csrf_token": token, "tracking.soft_bounce_threshold": "5"})
    assert response.status_code == 302
    (entry,) = _entries(db, action="settings.changed")
    assert entry.summary == "tracking.soft_bounce_threshold: 3 → 5" and entry.actor == "admin@example.com"
    admin_client.post("/network/settings/", data={"csrf_token": token, "tracking.soft_bounce_threshold": "5"})
    assert len(_entries(db, action="settings.changed")) == 1  # saving without a change records nothing


def test_a_secret_setting_reaches_the_log_as_changed_never_as_its_value(db, admin_client):
    from app.core.settings.services import get_option

    token = csrf_token(admin_client, "/network/settings/")
    response = admin_client.post("/network/settings/", data={
        "csrf_token": token, "tracking.webhook_secret": "hunter2-webhook-key"})
    assert response.status_code == 302 and get_option("tracking.webhook_secret") == "hunter2-webhook-key"
    (entry,) = _entries(db, action="settings.changed")
    assert "tracking.webhook_secret" in entry.summary and "hunter2" not in entry.summary
    assert "hunter2" not in admin_client.get("/network/settings/").get_data(as_text=True)


def test_an_entry_lives_and_dies_with_its_transaction(db, admin, product):
    from app.broadcasts.drafts import grant_mailing

    grant_mailing(product, admin)
    db.session.rollback()
    granted = "product.mailing_granted"
    assert _entries(db, action=granted) == [] and db.session.get(Product, product.id).mailing_allowed_at is None
    grant_mailing(db.session.get(Product, product.id), admin)
    db.session.commit()
    assert len(_entries(db, action=granted)) == 1


def test_entries_cannot_be_changed_or_deleted_from_the_app(app, db, admin):
    entry = record("broadcast.sent", ("broadcast", 1, "Hello"), "sent")
    db.session.commit()
    entry.summary = "nothing happened"
    with pytest.raises(AppendOnlyError):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEntry, entry.id))
    with pytest.raises(AppendOnlyError):
        db.session.commit()
    db.session.rollback()
    assert _entries(db, action="broadcast.sent")[0].summary == "sent"
    methods = {m for rule in app.url_map.iter_rules() if rule.rule.startswith("/network/audit")
               for m in rule.methods}
    assert methods <= {"GET", "HEAD", "OPTIONS"}
    assert not [c for c in app.cli.commands["audit"].commands if c != "list"]


def test_the_database_refuses_update_delete_and_truncate_even_in_raw_sql(db, admin):
    record("broadcast.sent", ("broadcast", 1, "Hello"), "sent")
    db.session.commit()
    statements = [update(AuditEntry).values(summary="x"), delete(AuditEntry),  # ORM bulk: no listener
                  text("UPDATE audit_entries SET summary = 'x'"), text("DELETE FROM audit_entries")]
    if db.engine.dialect.name == "postgresql":
        statements.append(text("TRUNCATE audit_entries"))
    else:  # SQLite's REPLACE deletes the old row without firing DELETE triggers
        statements.append(text("INSERT OR REPLACE INTO audit_entries (id, created_at, actor_kind, actor_id, "
                               "actor, action, object_type, object_id, object_label, summary, ip) "
                               "SELECT id, created_at, actor_kind, actor_id, actor, action, object_type, "
                               "object_id, object_label, 'wiped', ip FROM audit_entries"))
    for statement in statements:
        with pytest.raises(Exception, match="append-only"):
            db.session.execute(statement)
        db.session.rollback()
    assert _entries(db, action="broadcast.sent")[0].summary == "sent"


def test_downgrading_is_audited_and_never_drops_the_log_without_force(tmp_path, redis_database):
    from app import create_app

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    fresh = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url,
                        "INSTANCE_PATH": str(tmp_path), "REDIS_URL": redis_database.url})
    runner = fresh.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    refused = runner.invoke(args=["db", "downgrade", "0011_schedule_short_months"])
    assert refused.exit_code == 1 and "drops the audit log" in refused.output and "--force" in refused.output
    assert "Cannot downgrade" in runner.invoke(args=["db", "downgrade", "nonsense"]).output
    result = runner.invoke(args=["db", "downgrade", "0013_delivery_spelling"])
    assert result.exit_code == 0, result.output
    with fresh.app_context():
        entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [e.action for e in entries] == ["database.upgraded", "database.downgraded"]
        summary = entries[-1].summary  # every revision above 0013, newest first
        assert summary.startswith("reverting ") and summary.endswith(", 0015_live_counters")
        assert "0018_audit_append_only" in summary and "0016_flat_counters" in summary
        assert db.session.execute(text("SELECT version_num FROM alembic_version")).scalars().all().count(
            "0013_delivery_spelling") == 1
        db.engine.dispose()
    forced = runner.invoke(args=["db", "downgrade", "0011_schedule_short_months", "--force"])
    assert forced.exit_code == 0, forced.output
    with fresh.app_context():
        assert "audit_entries" not in db.inspect(db.engine).get_table_names()
        db.engine.dispose()


def test_a_relative_downgrade_with_several_heads_is_refused_and_changes_nothing(db, runner):
    # The run's database has the core's head and the bundled domain_mapping branch. Before the
    # refusal, Alembic only warned that "-1" was ambiguous and reverted the core's newest migration.
    versions = text("SELECT version_num FROM alembic_version ORDER BY version_num")
    before = db.session.execute(versions).scalars().all()
    assert len(before) == 2 and "domain_mapping_0001" in before
    for args in (["db", "downgrade"], ["db", "downgrade", "--", "-2"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, result.output
        assert "The database has 2 heads" in result.output and "Nothing was changed" in result.output
        assert "(the core): flask db downgrade 00" in result.output
        assert "domain_mapping_0001 (plugin domain_mapping): flask db downgrade domain_mapping@-1" in result.output
    assert db.session.execute(versions).scalars().all() == before
    assert audit_entries(action="database.downgraded") == []


def test_page_filters_pages_and_csv_export(db, admin_client):
    for i in range(55):
        record("broadcast.sent", ("broadcast", i, f"News {i}"), f"sent to {i} recipients")
    record("api_key.revoked", ("api_key", 7, "deploy"), "=HYPERLINK(\"http://evil\")")
    db.session.commit()
    page = admin_client.get("/network/audit/").get_data(as_text=True)
    assert "api_key.revoked" in page and "Older" in page and "News 54" in page and "News 3<" not in page
    filtered = admin_client.get("/network/audit/?action=api_key&object_id=7").get_data(as_text=True)
    assert "api_key.revoked" in filtered and "News" not in filtered.split("<tbody>")[1]
    assert admin_client.get("/network/audit/?since=yesterday").status_code == 400
    export = served_get(admin_client, "/network/audit/export.csv?object_type=api_key")
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert export.mimetype == "text/csv" and len(rows) == 1
    assert rows[0]["summary"] == "'=HYPERLINK(\"http://evil\")" and rows[0]["actor"].startswith("cli:") is False


def test_audit_list_command(db, runner):
    record("product.mailing_granted", ("product", 3, "Pro plan"), "allowed by ada@example.com")
    record("api_key.revoked", ("api_key", 7, "deploy"), "key hk_abc")
    db.session.commit()
    output = runner.invoke(args=["audit", "list", "--object", "product:3"]).output
    assert "product.mailing_granted" in output and "Pro plan" in output and "api_key" not in output
    assert "api_key.revoked" in runner.invoke(args=["audit", "list", "--action", "api_key"]).output
    assert runner.invoke(args=["audit", "list", "--since", "May"]).exit_code == 2
    for option, value, words in (("--object", "bogus", "no entry has the object type 'bogus'; the log holds: api_key, product."),
                                 ("--object", ":7", "use TYPE or TYPE:ID"),
                                 ("--action", "bogus", "no entry has the action or object 'bogus'"),
                                 ("--action", "api_key.made", "the log holds: api_key.revoked, product.mailing_granted")):
        refused = runner.invoke(args=["audit", "list", option, value])
        assert refused.exit_code == 2 and words in refused.output, refused.output
    for option, value in (("--object", "api_key:99"), ("--action", "api_key."), ("--action", "product")):
        result = runner.invoke(args=["audit", "list", option, value])  # known, nothing or something matches
        assert result.exit_code == 0 and result.output, (value, result.output)


def test_the_last_day_is_inclusive_up_to_the_year_9999(db, admin_client, runner):
    record("api_key.revoked", ("api_key", 7, "deploy"), "key hk_abc")
    db.session.commit()
    today = utcnow().date()  # entries are stamped in UTC
    yesterday = today - timedelta(days=1)
    for until, shown in ((today, True), (yesterday, False), (date.max, True)):
        page = admin_client.get(f"/network/audit/?until={until:%Y-%m-%d}")
        assert page.status_code == 200 and ("key hk_abc" in page.get_data(as_text=True)) is shown, until
        export = admin_client.get(f"/network/audit/export.csv?until={until:%Y-%m-%d}")
        assert export.status_code == 200 and ("key hk_abc" in export.get_data(as_text=True)) is shown
        listed = runner.invoke(args=["audit", "list", "--until", f"{until:%Y-%m-%d}"])
        assert listed.exit_code == 0 and ("key hk_abc" in listed.output) is shown, listed.output
    assert AuditFilters.from_args({"until": "9999-12-31"}).as_args() == {"until": "9999-12-31"}  # links keep it
    refused = admin_client.get("/network/audit/export.csv?since=last+week")  # not every date instead
    assert refused.status_code == 400 and "key hk_abc" not in refused.get_data(as_text=True)


PLUGIN = textwrap.dedent('''
    from flask import Blueprint
    PLUGIN_INFO = {"name": "Auditor", "version": "1"}
    SEEN = []
    bp = Blueprint("plugin_auditor", __name__)

    @bp.route("/wipe", methods=["POST"])
    def wipe():
        from app.core.extensions import db
        HOST.do_action("audit_log", "auditor.wiped", ("auditor_thing", 9, "Thing"), "wiped it")
        db.session.commit()
        return "", 204

    def setup(host):
        global HOST
        HOST = host
        host.add_blueprint(bp, url_prefix="/network/auditor")
        host.add_action("audit_recorded", lambda entry: SEEN.append(entry.action))
''')


def test_plugins_add_entries_and_see_every_entry(make_app, plugin_dir, admin, db):
    write_plugin(plugin_dir, "auditor", PLUGIN)
    plugin_app = make_app(PLUGINS_DIR=str(plugin_dir))
    with plugin_app.app_context():
        from app.plugins.services import activate

        activate("auditor")
        client = login(plugin_app.test_client(), admin.id)
        g.pop("_login_user", None)
        token = csrf_token(client, "/network/")
        assert client.post("/network/auditor/wipe", data={"csrf_token": token}).status_code == 204
        entry = _entries(db, action="auditor.wiped")[0]
        assert (entry.actor, entry.object_type, entry.summary) == (admin.email, "auditor_thing", "wiped it")
        seen = plugin_app.extensions["herald_plugins"].plugins["auditor"].module.SEEN
        assert "auditor.wiped" in seen
    assert [e.action for e in _entries(db, action="plugin.activated")] == ["plugin.activated"]


def test_only_super_admins_see_the_log(client, customer_client, admin):
    assert customer_client.get("/network/audit/").status_code == 403
    assert customer_client.get("/network/audit/export.csv").status_code == 403
    make_user("other@example.com")
    assert "Audit log" not in customer_client.get("/dashboard/").get_data(as_text=True)
