"""Configuration, start-up checks and the shell's CLI commands."""
import re
import smtplib
import socket

import pytest
from sqlalchemy import func, select

from app.core.config import ConfigError, load_config
from app.core.health import ServiceUnavailable, check_services


def test_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_config({"INSTANCE_PATH": str(tmp_path)})["SECRET_KEY"]
    second = load_config({"INSTANCE_PATH": str(tmp_path)})["SECRET_KEY"]
    assert first == second and len(first) > 40
    assert (tmp_path / "secret_key").read_text() == first


def test_production_refuses_to_start_without_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config({"INSTANCE_PATH": str(tmp_path), "PRODUCTION": True})


@pytest.mark.parametrize("url, why", [("http://ex\u200bample.com", "U+200B"), ("herald.example", "full http"),
                                      ("https://<b>x</b>/", "not a valid domain name"),
                                      ("https://😀.example.com", "not a valid domain name")])
def test_base_url_is_checked_as_url_settings_are(tmp_path, url, why):
    """BASE_URL starts every link in every e-mail; its host name goes through the one host-name
    check (core.hostnames), as the host of url settings does."""
    with pytest.raises(ConfigError, match=re.escape(why)):
        load_config({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k", "BASE_URL": url})
    for fine in ("http://127.0.0.1:5000", "http://localhost:5000", "https://net.example/herald"):
        assert load_config({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k", "BASE_URL": fine})["BASE_URL"] == fine


def test_environment_variables_are_read(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example/herald")
    monkeypatch.setenv("REDIS_URL", "redis://cache.example:6380/2")
    monkeypatch.setenv("BASE_URL", "https://net.example/")
    config = load_config({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k"})
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/herald"
    assert config["REDIS_URL"] == "redis://cache.example:6380/2"
    assert config["BASE_URL"] == "https://net.example"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_redis_is_one_clear_line(make_app):
    broken = make_app(REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0")
    with pytest.raises(ServiceUnavailable) as caught:
        check_services(broken)
    message = str(caught.value)
    assert message.startswith("Redis at redis://127.0.0.1:") and "REDIS_URL" in message
    assert "\n" not in message


def test_unreachable_database_is_one_clear_line(make_app, tmp_path):
    broken = make_app(SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://nobody@127.0.0.1:{_free_port()}/x")
    with pytest.raises(ServiceUnavailable, match="DATABASE_URL") as caught:
        check_services(broken)
    assert "\n" not in str(caught.value)


def test_check_command_reports_both_services(runner):
    result = runner.invoke(args=["check"])
    assert result.exit_code == 0 and "database ok" in result.output and "redis ok" in result.output


def test_check_reports_stored_addresses_the_rules_refuse_and_rewrites_none(runner, app, db):
    """Rows written before addresses were checked (issue 14) are listed, not silently rewritten."""
    from sqlalchemy import insert, select

    from app.mail.suppression import Suppression
    from app.network.models import Customer

    rows = ["fine@example.com", "Kept.Spelling@example.com", "shout@EXAMPLE.COM", "nobody@nowhere",
            "anna@xn--bcher-kva.example", "two@@example.com"]
    db.session.execute(insert(Customer), [{"email": email, "name": "x"} for email in rows])
    db.session.add_all([Suppression(email="ok@example.com", reason="bounced"),
                        Suppression(email="Upper@example.com", reason="bounced")])
    db.session.commit()
    result = runner.invoke(args=["check"])
    assert result.exit_code == 0, result.output
    assert "addresses to fix by hand: customers, 4 of 6" in result.output
    for problem in ("the rules write it 'shout@example.com'", "nobody@nowhere is not a valid e-mail address",
                    "the rules write it 'anna@bücher.example'", "two@@example.com is not a valid"):
        assert problem in result.output
    assert "Kept.Spelling" not in result.output and "fine@example.com" not in result.output
    assert "addresses ok: users" in result.output
    assert "addresses to fix by hand: suppressions, 1 of 2" in result.output
    assert "the rules write it 'upper@example.com'" in result.output
    assert sorted(db.session.scalars(select(Customer.email))) == sorted(rows)  # nothing rewritten
    assert "addresses" not in runner.invoke(args=["check", "--no-addresses"]).output


def test_check_reports_stored_settings_the_rules_refuse_now(runner, app, db):
    """A rate of 0 (no limit until 2026-12-01, refused since) or a host-name setting saved before
    it was checked is listed by flask check, not left to go out in e-mails unnoticed."""
    from app.core.settings.models import Option

    assert "settings ok" in runner.invoke(args=["check", "--no-addresses"]).output
    db.session.add_all([Option(key="delivery.rate_per_second", value="0"),
                        Option(key="network.name", value="Fine")])
    db.session.commit()
    result = runner.invoke(args=["check", "--no-addresses"])
    assert result.exit_code == 0, result.output
    assert "setting delivery.rate_per_second to fix on the Settings page: A rate must be more than zero" \
        in result.output
    assert "network.name" not in result.output and "settings ok" not in result.output
    assert db.session.get(Option, "delivery.rate_per_second").value == "0"  # nothing rewritten


def test_create_admin_command(runner, app):
    from app.auth.models import User

    result = runner.invoke(args=["create-admin", "--email", "Boss@Example.com",
                                 "--password", "longenough"])
    assert result.exit_code == 0, result.output
    user = User.find_by_email("boss@example.com")
    assert user.is_super_admin and user.check_password("longenough")
    again = runner.invoke(args=["create-admin", "--email", "boss@example.com", "--password", "longenough"])
    assert again.exit_code != 0 and "already exists" in again.output
    short = runner.invoke(args=["create-admin", "--email", "x@example.com", "--password", "short"])
    assert short.exit_code != 0 and "at least 8" in short.output


def test_seed_demo_builds_a_realistic_network(runner, db):
    from app.network.models import Customer, Membership, MEMBERSHIP_STATUSES, Product, Site

    result = runner.invoke(args=["seed-demo", "--customers", "600", "--products", "4"])
    assert result.exit_code == 0, result.output
    assert "customer login: customer1@example.com" in result.output
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 600
    assert db.session.scalar(select(func.count()).select_from(Product)) == 4
    assert db.session.scalar(select(func.count()).select_from(Site)) > 600
    statuses = set(db.session.scalars(select(Membership.status).distinct()))
    assert statuses == set(MEMBERSHIP_STATUSES)
    shared = db.session.scalar(select(func.count()).select_from(
        select(Customer.email).group_by(Customer.email).having(func.count() > 1).subquery()))
    assert shared > 0
    # ids keep working after explicit-id inserts (sequences advanced on PostgreSQL)
    from app.network.services import register_customer
    highest = db.session.scalar(select(func.max(Customer.id)))
    new = register_customer("new@example.com")
    db.session.commit()
    assert new.id > highest


def test_seed_demo_gives_logins_only_to_customers_it_creates(runner, db):
    from app.auth.models import User
    from app.network.cli import DEMO_PASSWORD
    from app.testing import make_customer

    real = [make_customer(f"real{n}@example.org", f"Real {n}") for n in range(4)]
    nothing = runner.invoke(args=["seed-demo", "--customers", "0", "--products", "1"])
    assert nothing.exit_code == 0, nothing.output
    assert "customer login:" not in nothing.output and "No customer logins" in nothing.output
    result = runner.invoke(args=["seed-demo", "--customers", "5", "--products", "1"])
    assert result.exit_code == 0, result.output
    for person in real:
        db.session.refresh(person)
        assert person.user_id is None and User.find_by_email(person.email) is None
    first = real[-1].id + 1
    logins = [f"customer{n}@example.com" for n in range(first, first + 3)]
    assert [line.split()[2] for line in result.output.splitlines() if "customer login:" in line] == logins
    assert all(User.find_by_email(email).check_password(DEMO_PASSWORD) for email in logins)


def test_mail_catcher_keeps_mail_and_shows_it(app, admin_client, tmp_path):
    from aiosmtpd.controller import Controller

    from app.mailcatcher.store import MaildirHandler

    app.config["MAILCATCHER_DIR"] = str(tmp_path / "caught-mail")  # its own: later tests count theirs
    controller = Controller(MaildirHandler(app.config["MAILCATCHER_DIR"]), hostname="127.0.0.1",
                            port=_free_port())
    controller.start()
    try:
        with smtplib.SMTP(controller.hostname, controller.port) as smtp:
            smtp.sendmail("a@example.com", ["b@example.com"],
                          "Subject: Caught here\r\nContent-Type: text/html\r\n\r\n<p>Hello</p>")
    finally:
        controller.stop()
    page = admin_client.get("/network/caught-mail/").get_data(as_text=True)
    assert "Caught here" in page and "b@example.com" in page
    from app.mailcatcher.store import read_messages
    key = read_messages(app.config["MAILCATCHER_DIR"])[0].key
    detail = admin_client.get(f"/network/caught-mail/{key}").get_data(as_text=True)
    from app.testing import mail_frames

    assert "<p>Hello</p>" in mail_frames(admin_client, detail)  # in a sandboxed frame of its own
    assert admin_client.get("/network/caught-mail/nope").status_code == 404


@pytest.mark.parametrize("args", [
    *(["delivery", "watch", "1", "--interval", bad] for bad in ("-1", "0", "nan", "NaN", "inf", "1e9")),
    *(["schedules", "preview", "FREQ=DAILY", "--limit", bad] for bad in ("0", "-5", "101")),
    *(["mailcatcher", "--port", bad] for bad in ("-1", "0", "70000")),
    *(["dev", option, "99999"] for option in ("--port", "--mail-port")),
])
def test_numeric_options_out_of_range_are_usage_errors(runner, args):
    """Before: a ValueError traceback (``watch --interval -1`` in time.sleep, nan looped without
    sleeping), a silent clamp (``preview --limit``), an OverflowError from the socket (ports)."""
    result = runner.invoke(args=args)
    assert result.exit_code == 2 and f"Invalid value for '{args[-2]}'" in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
