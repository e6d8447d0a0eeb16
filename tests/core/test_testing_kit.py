"""The test kit itself (app.testing): rollback and commits, the worker, the shared app, the sink, Redis."""
import smtplib
import subprocess
import sys

import pytest
from sqlalchemy import func, select, text

from app.core.hooks import add_action
from app.network.models import Customer
from app.testing import JobFailed, make_customer, run_jobs
from app.testing.apps import AppState


def explode():
    """A job that fails."""
    raise ZeroDivisionError("the job broke")


def _customers_seen_elsewhere(db) -> int:
    """How many customers a connection other than the test's sees."""
    with db.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(Customer)).scalar_one()


def test_a_rolled_back_test_commits_only_inside_its_own_transaction(db, herald_settings):
    if herald_settings.isolation == "truncate":
        pytest.skip("HERALD_TEST_ISOLATION=truncate: every test commits for real")
    make_customer("ann@example.com", "Ann")  # commits
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 1
    db.session.rollback()  # rolls back to the last commit, not to the start of the test
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 1
    assert _customers_seen_elsewhere(db) == 0  # nobody else sees it, and it is gone after the test
    with pytest.raises(RuntimeError, match="mark the test @pytest.mark.committed"):
        run_jobs()


@pytest.mark.committed
def test_a_committed_test_is_seen_by_other_connections(db):
    make_customer("bo@example.com", "Bo")
    assert _customers_seen_elsewhere(db) == 1


def test_every_test_starts_with_empty_tables(db):
    assert _customers_seen_elsewhere(db) == 0
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 0


def test_a_job_that_raises_fails_the_test_with_its_traceback(app, worker):
    from app.core.jobs import enqueue_now

    enqueue_now(explode)
    with pytest.raises(JobFailed, match="ZeroDivisionError: the job broke"):
        worker.work()
    enqueue_now(explode)
    assert len(worker.work(allow_failures=True)) == 1


def test_factories_go_through_the_services(app):
    created = []
    add_action("customer_created", lambda customer: created.append(customer.email))
    customer = make_customer("Cy@Example.com", "Cy", login=True)
    assert created == ["Cy@example.com"]  # the customer's own spelling, the domain lower-cased
    assert customer.user.check_password("password123")


def test_what_a_test_changes_on_the_shared_app_is_put_back(app):
    hooks = app.extensions["herald_hooks"]
    before = len(hooks.registrations("customer_created"))
    with AppState(app):
        add_action("customer_created", lambda customer: None)
        app.config["SMTP_URL"] = "smtp://127.0.0.1:9"
        app.extensions["some_cache"] = {"run 1": "markup"}
    assert len(hooks.registrations("customer_created")) == before
    assert app.config["SMTP_URL"] != "smtp://127.0.0.1:9" and "some_cache" not in app.extensions


def test_the_smtp_sink_is_a_real_server_with_cues(app, smtp_sink):
    assert app.config["SMTP_URL"] == smtp_sink.url
    smtp_sink.cues = {"later@example.com": ["451 4.3.0 Try later", "250 OK"]}
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.sendmail("a@example.com", ["later@example.com"], "Subject: One\r\n\r\nx")
        smtp.sendmail("a@example.com", ["later@example.com", "b@example.com"], "Subject: Two\r\n\r\ny")
    assert smtp_sink.attempts == {"later@example.com": 2, "b@example.com": 1}
    assert smtp_sink.subjects() == [("b@example.com", "Two"), ("later@example.com", "Two")]
    assert [m.mail_from for m in smtp_sink.to("b@example.com")] == ["a@example.com"]
    smtp_sink.reset()
    assert smtp_sink.messages == [] and smtp_sink.cues == {} and smtp_sink.attempts == {}


def test_a_second_run_cannot_take_the_runs_redis_database(redis_database):
    code = ("from app.testing.redisdb import RedisDatabase, RedisInUse\n"
            f"try: RedisDatabase({redis_database.url!r}).claim()\n"
            "except RedisInUse as error: print(error)\n")
    # through sh, so the process is not a child of this run (a nested run may share the database)
    result = subprocess.run(["sh", "-c", f'"{sys.executable}" -c "$0"; true', code], capture_output=True,
                            text=True, timeout=60, check=True)
    assert "is used by another test run" in result.stdout and "TEST_REDIS_URL" in result.stdout


def test_the_database_is_migrated_to_every_head(db):
    heads = set(db.session.scalars(text("SELECT version_num FROM alembic_version")))
    assert "domain_mapping_0001" in heads and len(heads) >= 2
