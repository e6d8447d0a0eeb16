"""Configuration, start-up checks and the shell's CLI commands."""
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


def test_mail_catcher_keeps_mail_and_shows_it(app, admin_client, tmp_path):
    from aiosmtpd.controller import Controller

    from app.mailcatcher.store import MaildirHandler

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
