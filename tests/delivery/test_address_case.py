"""One definition of "the same address" in Python and SQL, on SQLite and PostgreSQL alike: its ASCII
letters in lower case, every other character as written (core.utils.normalise_email, migration
0025). Before, Python keyed with str.lower and SQL with lower(), which PostgreSQL applies by the
database's locale (C.UTF-8: ``ΣΙΣΥΦΟΣ`` -> ``σισυφοσ`` in SQL, ``σισυφος`` in Python; ``İVAN`` ->
``ivan`` in SQL, ``i̇van`` in Python) and SQLite to ASCII only: suppressed customers were sent to,
one key was sent twice, and a complaint did not block system e-mails (review E item 3)."""
from collections import Counter

from sqlalchemy import create_engine, select, text

from app.broadcasts.audience import count_audience
from app.core.utils import normalise_email
from app.delivery.jobs import plan_run
from app.delivery.models import Delivery
from app.mail.addresses import address_key
from app.network.services import find_customer, search_customers
from app.tracking.services import blocks_mail
from app.tracking.services import suppress as suppress_address

from .conftest import add_customers, fresh_app, make_run
from .test_return_paths import _signed_post

GREEK = ["ΟΔΥΣΣΕΥΣ@example.com", "οδυσσευς@example.com", "ΣΙΣΥΦΟΣ@example.com", "σισυφοσ@example.com"]


def test_the_key_folds_ascii_letters_only():
    assert address_key("ΣΙΣΥΦΟΣ@Example.COM") == "ΣΙΣΥΦΟΣ@example.com"
    assert address_key("İVAN@example.com") == "İvan@example.com"
    assert address_key("ZOË.Smith@Example.com") == address_key("zoË.smith@example.com") == "zoË.smith@example.com"
    assert address_key("σισυφος@example.com") != address_key("σισυφοσ@example.com")  # as written
    assert normalise_email("  Bob@Example.COM ") == "bob@example.com"


def _ledger(db, run_id):
    return {d.email: d for d in db.session.scalars(select(Delivery).where(Delivery.run_id == run_id))}


def test_planning_dedupes_and_suppresses_by_the_key_python_computes(app, db, smtp_sink, product, jobs):
    customers = add_customers([(email, "Greek") for email in GREEK]
                              + [("ZOË@example.com", "Zoë"), ("zoË@example.com", "Zoë twin"),
                                 ("İVAN@example.com", "Ivan"), ("ivan@example.com", "ivan")], product)
    suppress_address("ΣΙΣΥΦΟΣ@example.com", "unsubscribed", "admin")
    db.session.commit()
    run = make_run(products=[product])
    # the wizard's count (migration 0020's tables, kept by the triggers) says what planning does
    counts = count_audience(run.broadcast)
    assert (counts.customers, counts.addresses, counts.excluded) == (8, 7, {"unsubscribed": 1})
    jobs.start(run)

    rows = _ledger(db, run.id)
    # one row per key Python computes, under that key: SQL and Python agree, whatever the database
    assert set(rows) == {address_key(c.email) for c in customers}
    assert len(rows) == len(customers) - 1  # ZOË and zoË: one address
    assert rows["ΣΙΣΥΦΟΣ@example.com"].status == "skipped"
    assert rows["ΣΙΣΥΦΟΣ@example.com"].reason == "unsubscribed"
    sent_to = Counter(m.rcpt_tos[0] for m in smtp_sink.messages)
    assert "ΣΙΣΥΦΟΣ@example.com" not in sent_to
    assert set(sent_to.values()) == {1}
    assert sorted(sent_to) == sorted(["ΟΔΥΣΣΕΥΣ@example.com", "οδυσσευς@example.com", "σισυφοσ@example.com",
                                      "ZOË@example.com", "İVAN@example.com", "ivan@example.com"])
    assert {address_key(a) for a in sent_to} == {e for e, row in rows.items() if row.status == "sent"}


def test_a_suppression_added_after_planning_stops_the_send(app, db, smtp_sink, product, jobs):
    add_customers([("ΣΙΣΥΦΟΣ@example.com", "S"), ("İVAN@example.com", "I"), ("bob@example.com", "B")], product)
    run = make_run(products=[product])
    run_id = run.id
    from app.core.jobs import enqueue_now
    enqueue_now(plan_run, run_id, queue="delivery")
    jobs.work(max_jobs=1)  # planned; the chunks wait
    suppress_address("ΣΙΣΥΦΟΣ@example.com", "unsubscribed", "admin")
    suppress_address("İVAN@example.com", "complained", "admin")
    db.session.commit()
    jobs.work()
    rows = _ledger(db, run_id)
    assert {e: (r.status, r.reason) for e, r in rows.items()} == {
        "ΣΙΣΥΦΟΣ@example.com": ("skipped", "unsubscribed"), "İvan@example.com": ("skipped", "complained"),
        "bob@example.com": ("sent", None)}
    assert [m.rcpt_tos[0] for m in smtp_sink.messages] == ["bob@example.com"]


def test_a_complaint_through_the_ledger_blocks_system_emails(app, db, smtp_sink, product, jobs):
    """A complaint is stored under the ledger's key (SQL's); system e-mails ask with Python's."""
    add_customers([("İVAN@example.com", "Ivan"), ("ΣΙΣΥΦΟΣ@example.com", "S")], product)
    run = make_run(products=[product])
    jobs.start(run)
    for row in _ledger(db, run.id).values():
        suppress_address(row.email, "complained", "dsn")
    db.session.commit()
    assert blocks_mail("İVAN@example.com", system=True)
    assert blocks_mail("İVAN@EXAMPLE.com", system=True)
    assert blocks_mail("ΣΙΣΥΦΟΣ@example.com", system=True)
    assert not blocks_mail("σισυφος@example.com", system=True)  # another address, as written


def test_a_customer_is_found_by_its_address_in_any_ascii_case(app, db, product):
    sisyphus, zoe = add_customers([("ΣΙΣΥΦΟΣ@example.com", "S"), ("ZOë.Quinn@example.com", "Zoë")], product)
    assert find_customer("ΣΙΣΥΦΟΣ@EXAMPLE.COM").id == sisyphus.id
    assert find_customer("σισυφος@example.com") is None
    # the list's search: an address prefix folded as the key is
    assert [c.id for c in search_customers("ΣΙΣΥ").items] == [sisyphus.id]
    assert [c.id for c in search_customers("zoë.q").items] == [zoe.id]


def test_a_user_logs_in_by_the_key(app, db):
    from app.auth.models import User
    from app.auth.services import create_user

    user = create_user("ΣΙΣΥΦΟΣ@example.com", "password123")
    db.session.commit()
    assert User.find_by_email("ΣΙΣΥΦΟΣ@EXAMPLE.com").id == user.id
    assert User.find_by_email("σισυφος@example.com") is None


# Migration 0025 on a populated database, both ways, on the run's kind of database.

POPULATION = ["ΣΙΣΥΦΟΣ@example.com", "σισυφος@example.com", "ΟΔΥΣΣΕΥΣ@example.com", "οδυσσευς@example.com",
              "İVAN@example.com", "ivan@example.com", "ZOË@example.com", "zoË@example.com", "Bob@example.com",
              "bob@example.com", "ann@example.com"]


def _scratch_database(herald_settings, tmp_path):
    """A database of its own (the run's kind): the URL and a function that drops it."""
    if not herald_settings.postgresql:
        return f"sqlite:///{tmp_path / 'case.db'}", lambda: None
    base, _, name = herald_settings.database_url.rpartition("/")
    scratch = f"{name}_0025"
    admin = create_engine(herald_settings.database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch}"'))
        connection.execute(text(f'CREATE DATABASE "{scratch}" TEMPLATE template0'))

    def drop():
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()
    return f"{base}/{scratch}", drop


def _state(engine):
    with engine.connect() as connection:
        def rows(sql):
            return sorted(tuple(row) for row in connection.execute(text(sql)))
        return {
            "addresses": rows("SELECT email, customers FROM addresses"),
            "recount": rows("SELECT lower(email), count(*) FROM customers GROUP BY lower(email)"),
            "shared": rows("SELECT customer_id, email FROM shared_addresses"),
            "shared_recount": rows("SELECT c.id, lower(c.email) FROM customers c WHERE (SELECT count(*) FROM "
                                   "customers o WHERE lower(o.email) = lower(c.email)) > 1"),
            "suppressed": rows("SELECT customer_id, email, reason FROM suppressed_customers"),
            "suppressed_recount": rows("SELECT c.id, s.email, s.reason FROM customers c "
                                       "JOIN suppressions s ON s.email = lower(c.email)"),
            "suppressions": rows("SELECT email, reason FROM suppressions"),
            "customers": rows("SELECT id, email FROM customers"),
        }


def _populated_at_0024(url, tmp_path, redis_database):
    """An app on database ``url``, migrated to 0024 with POPULATION as its customers: the app, its
    CLI runner, ``migrate(*args)`` (``flask db``, which must succeed) and an engine."""
    fresh, runner, migrate = fresh_app(url, tmp_path, redis_database.url)
    migrate("upgrade", "0024_cheaper_batch_writes")
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        for n, email in enumerate(POPULATION, start=1):
            connection.execute(text("INSERT INTO customers (id, email, name, locale, timezone, created_at) "
                                    "VALUES (:id, :email, 'x', 'en', 'UTC', CURRENT_TIMESTAMP)"),
                               {"id": n, "email": email})
    return fresh, runner, migrate, engine


def test_migration_0025_both_ways_on_a_populated_database(tmp_path, redis_database, herald_settings):
    url, drop = _scratch_database(herald_settings, tmp_path)
    try:
        fresh, runner, migrate, engine = _populated_at_0024(url, tmp_path, redis_database)
        with engine.begin() as connection:
            # keyed by the old Python rule (str.lower), as suppress() stored them
            # ... and by PostgreSQL's lower() in a C.UTF-8 database, as the ledger keyed ΟΔΥΣΣΕΥΣ
            for email, reason in (("σισυφος@example.com", "unsubscribed"), ("i̇van@example.com", "complained"),
                                  ("οδυσσευσ@example.com", "complained"),
                                  # ZOË's new key, weaker than under its old key: strengthened
                                  ("zoË@example.com", "unsubscribed"), ("zoë@example.com", "bounced")):
                connection.execute(text("INSERT INTO suppressions (email, reason, source, created_at) "
                                        "VALUES (:email, :reason, 'admin', CURRENT_TIMESTAMP)"),
                                   {"email": email, "reason": reason})
        before = _state(engine)

        migrate("upgrade")
        after = _state(engine)
        keys = Counter(normalise_email(email) for email in POPULATION)
        assert after["customers"] == before["customers"]
        assert after["addresses"] == after["recount"] == sorted(keys.items())
        assert after["shared"] == after["shared_recount"]
        assert {email for _, email in after["shared"]} == {"bob@example.com", "zoË@example.com"}
        # the old keys stay; each customer they covered is covered under its new key too
        copied = [("ΣΙΣΥΦΟΣ@example.com", "unsubscribed"), ("İvan@example.com", "complained")]
        if herald_settings.postgresql:  # SQLite's lower() never gave ΟΔΥΣΣΕΥΣ that key
            copied.append(("ΟΔΥΣΣΕΥΣ@example.com", "complained"))
        expected = dict(before["suppressions"]) | dict(copied) | {"zoË@example.com": "bounced"}
        assert after["suppressions"] == sorted(expected.items())
        assert after["suppressed"] == after["suppressed_recount"]
        assert {email for _, email, _ in after["suppressed"]} == {"σισυφος@example.com", "zoË@example.com"} | {
            e for e, _ in copied}

        migrate("downgrade", "0024_cheaper_batch_writes")
        down = _state(engine)
        assert down["customers"] == before["customers"]
        assert down["addresses"] == down["recount"] == before["recount"]
        assert down["shared"] == down["shared_recount"]
        assert down["suppressed"] == down["suppressed_recount"]

        migrate("upgrade")
        assert _state(engine) == after
        engine.dispose()
        with fresh.app_context():
            from app.core.extensions import db
            db.engine.dispose()
    finally:
        drop()



def test_a_bounce_names_its_recipient_by_the_key(app):
    """A bounce that matches no delivery suppresses the address it names: under its key."""
    from pathlib import Path

    from app.tracking.bounces import parse_bounce

    raw = (Path(__file__).parents[1] / "fixtures" / "dsn" / "exim_legacy_plain.eml").read_bytes()
    raw = raw.replace(b"old@example.com", "ΣΙΣΥΦΟΣ@Example.com".encode())
    [report] = parse_bounce(raw).reports
    assert report.recipient == address_key("ΣΙΣΥΦΟΣ@example.com") == "ΣΙΣΥΦΟΣ@example.com"


def test_a_test_send_names_the_customer_only_at_the_customers_address(app, db, product):
    from app.broadcasts.mail import recipient_of

    sisyphus, = add_customers([("ΣΙΣΥΦΟΣ@example.com", "Sisyphus")], product)
    assert recipient_of(sisyphus, "ΣΙΣΥΦΟΣ@EXAMPLE.com").to_name is None  # their own: their name
    assert recipient_of(sisyphus, "σισυφος@example.com").to_name == ""  # another address


def test_a_report_for_a_run_planned_before_0025_suppresses_the_address_mailed(
        app, db, smtp_sink, product, jobs, client):
    """Review F item 2: a run planned before 0025 keeps PostgreSQL's locale keys in its ledger
    (οδυσσευσ@ for ΟΔΥΣΣΕΥΣ@, ivan@ for İVAN@), which are no customer's key or another customer's
    now; a bounce or complaint for its messages suppressed that key. It suppresses the address the
    message went to, under today's key."""
    from app.mail.verp import signer
    from app.tracking.services import record_bounce, suppression_for

    app.config["BOUNCE_WEBHOOK_SECRET"] = "hook-secret"
    add_customers([("ΟΔΥΣΣΕΥΣ@example.com", "O"), ("İVAN@example.com", "I"), ("ivan@example.com", "i")],
                  product)
    run = make_run(products=[product])
    jobs.start(run)
    rows = _ledger(db, run.id)
    odysseus, ivan = rows["ΟΔΥΣΣΕΥΣ@example.com"], rows["İvan@example.com"]
    # as 0024 planned them: the locale key, the customer's own spelling beside it
    db.session.execute(Delivery.__table__.update().where(Delivery.id == odysseus.id)
                       .values(email="οδυσσευσ@example.com", spelling="ΟΔΥΣΣΕΥΣ@example.com"))
    db.session.execute(Delivery.__table__.delete().where(Delivery.id == rows["ivan@example.com"].id))
    db.session.execute(Delivery.__table__.update().where(Delivery.id == ivan.id)
                       .values(email="ivan@example.com", spelling="İVAN@example.com"))
    db.session.commit()

    outcome = record_bounce("ΟΔΥΣΣΕΥΣ@example.com", "hard", "dsn", "5.1.1", message_id=odysseus.message_id)
    db.session.commit()
    assert outcome.delivery.id == odysseus.id and outcome.email == "ΟΔΥΣΣΕΥΣ@example.com"
    assert suppression_for("ΟΔΥΣΣΕΥΣ@example.com").reason == "bounced"
    assert suppression_for("οδυσσευσ@example.com") is None

    response = _signed_post(client, {"type": "complaint", "email": "İVAN@example.com", "id": "w1",
                                     "return_path": signer()(ivan.id)})
    result = response.json["results"][0]
    assert result["email"] == "İvan@example.com" and "note" not in result, response.json
    assert suppression_for("İVAN@example.com").reason == "complained"
    assert suppression_for("ivan@example.com") is None  # another customer since 0025


def test_migration_0025_rekeys_the_ledger_and_refuses_a_downgrade_that_would_merge_users(
        tmp_path, redis_database, herald_settings):
    """Review F items 2-4 (PostgreSQL; SQLite's lower() never keyed otherwise). A run planned
    before 0025 (keys by the locale's lower()) still sending after it checked suppressions under
    its old keys: ΣΙΣΥΦΟΣ, unsubscribed before the upgrade (copied to ΣΙΣΥΦΟΣ@), was mailed, the
    ledger looking for σισυφοσ@. 0025 re-keys the ledger. And a downgrade with two users that only
    today's key tells apart stopped with a traceback from the unique index: it refuses first."""
    import pytest

    if not herald_settings.postgresql:
        pytest.skip("PostgreSQL only: SQLite's lower() folded ASCII only before 0025 too")
    url, drop = _scratch_database(herald_settings, tmp_path)
    try:
        fresh, runner, migrate, engine = _populated_at_0024(url, tmp_path, redis_database)
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO suppressions (email, reason, source, created_at) VALUES "
                                    "('σισυφος@example.com', 'unsubscribed', 'link', CURRENT_TIMESTAMP)"))
            # run 1 as 0024 planned it (a row per lower(email), the lowest id's spelling beside it)
            connection.execute(text(
                "INSERT INTO deliveries (run_id, customer_id, email, spelling, status, attempts) "
                "SELECT 1, min(id), lower(email), nullif((array_agg(email ORDER BY id))[1], lower(email)), "
                "'queued', 0 FROM customers GROUP BY lower(email)"))
            old = dict(connection.execute(text("SELECT email, spelling FROM deliveries")).all())
        assert old["σισυφοσ@example.com"] == "ΣΙΣΥΦΟΣ@example.com"  # the locale's keys (C.UTF-8)
        assert old["ivan@example.com"] == "İVAN@example.com" and "σισυφος@example.com" in old

        migrate("upgrade")
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT d.email, d.spelling, s.reason FROM deliveries d "
                                           "LEFT JOIN suppressions s ON s.email = d.email")).all()
        ledger = {email: (spelling, reason) for email, spelling, reason in rows}
        # today's keys; the send-time check (claims: suppressions.email = deliveries.email) finds ΣΙΣΥΦΟΣ
        assert ledger["ΣΙΣΥΦΟΣ@example.com"] == (None, "unsubscribed")
        assert ledger["ΟΔΥΣΣΕΥΣ@example.com"] == (None, None)
        assert ledger["İvan@example.com"] == ("İVAN@example.com", None)
        assert {address_key(spelling or email) for email, spelling, _ in rows} == set(ledger)
        assert sorted(spelling or email for email, spelling, _ in rows) == sorted(
            spelling or email for email, spelling in old.items())  # each still goes where it went

        with engine.begin() as connection:
            for n, email in enumerate(("ΣΙΣΥΦΟΣ@example.com", "σισυφοσ@example.com"), start=1):
                connection.execute(text("INSERT INTO users (id, email, password_hash, name, is_super_admin, "
                                        "active, created_at, session_token) VALUES (:id, :email, '', '', "
                                        "false, true, CURRENT_TIMESTAMP, :token)"),
                                   {"id": n, "email": email, "token": f"t{n}"})
        before = _state(engine)
        result = runner.invoke(args=["db", "downgrade", "0024_cheaper_batch_writes"])
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert "cannot downgrade below 0025_address_case" in result.output
        assert "ΣΙΣΥΦΟΣ@example.com, σισυφοσ@example.com" in result.output
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT version_num FROM alembic_version")) == "0025_address_case"
            assert connection.scalar(text("SELECT count(*) FROM users")) == 2
        assert _state(engine) == before
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM users WHERE id = 2"))
        migrate("downgrade", "0024_cheaper_batch_writes")
        engine.dispose()
        with fresh.app_context():
            from app.core.extensions import db
            db.engine.dispose()
    finally:
        drop()


def test_a_run_planned_before_0025_and_sending_after_it_skips_who_was_suppressed(
        app, db, smtp_sink, product, jobs, herald_settings):
    """Review F item 3, through the sender: a run planned as 0024 did (ΣΙΣΥΦΟΣ@ under the
    locale's σισυφοσ@) and sent after 0025 (ΣΙΣΥΦΟΣ's suppression copied under ΣΙΣΥΦΟΣ@) mailed
    ΣΙΣΥΦΟΣ. 0025's re-keying of the ledger (PostgreSQL) makes the check at send find it."""
    import importlib.util
    from pathlib import Path

    import pytest
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    from app.core.jobs import enqueue_now

    if not herald_settings.postgresql:
        pytest.skip("PostgreSQL only: SQLite's lower() folded ASCII only before 0025 too")
    add_customers([("ΣΙΣΥΦΟΣ@example.com", "S"), ("bob@example.com", "B")], product)
    run = make_run(products=[product])
    run_id = run.id
    enqueue_now(plan_run, run_id, queue="delivery")
    jobs.work(max_jobs=1)  # planned; the chunks wait
    db.session.execute(Delivery.__table__.update().where(Delivery.run_id == run_id,
                                                         Delivery.email == "ΣΙΣΥΦΟΣ@example.com")
                       .values(email="σισυφοσ@example.com", spelling="ΣΙΣΥΦΟΣ@example.com"))
    suppress_address("ΣΙΣΥΦΟΣ@example.com", "unsubscribed", "link")
    path = Path(__file__).parents[2] / "migrations" / "versions" / "0025_address_case.py"
    spec = importlib.util.spec_from_file_location("address_case_0025", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with Operations.context(MigrationContext.configure(db.session.connection())):
        migration._rekey_ledger()
    db.session.commit()
    jobs.work()
    rows = _ledger(db, run_id)
    assert {e: (r.status, r.reason) for e, r in rows.items()} == {
        "ΣΙΣΥΦΟΣ@example.com": ("skipped", "unsubscribed"), "bob@example.com": ("sent", None)}
    assert [m.rcpt_tos[0] for m in smtp_sink.messages] == ["bob@example.com"]
