"""``flask dev``: what `make run` starts: migrate, seed when empty, then web, worker and mail catcher."""
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from .auth.models import User
from .auth.services import create_user
from .core.cli import terminal_safe
from .core.extensions import db
from .network.cli import seed_demo_command
from .plugins.network_setup import setup_network

DEV_ADMIN_EMAIL = "admin@herald.test"  # .test: RFC 6761, accepted outside production


LEGACY_PASSWORD_FILE = "dev-admin-password"  # one file for every database, before 2026-12-01


def database_label(url) -> str:
    """A file-name-safe name of the database at ``url`` (a SQLAlchemy URL or string):
    ``sqlite-herald.db``, ``postgresql-127.0.0.1-5432-herald``; never its user or password."""
    url = make_url(str(url)) if isinstance(url, str) else url
    if url.get_backend_name() == "sqlite":
        parts = ["sqlite", url.database or "memory"]
        if url.database and Path(url.database).parent == Path(current_app.instance_path):
            parts[1] = Path(url.database).name
    else:
        parts = [url.get_backend_name(), url.host or "local", str(url.port or "default"), url.database or ""]
    return re.sub(r"[^A-Za-z0-9._]+", "-", "-".join(parts)).strip("-.")[:120]


def _password_file() -> Path:
    """instance/dev-admin-password.<database>: one file per database, so that ``flask dev`` on
    SQLite never overwrites the password of the PostgreSQL dev admin (or the other way round)."""
    return Path(current_app.instance_path) / f"{LEGACY_PASSWORD_FILE}.{database_label(db.engine.url)}"


def _ensure_demo_network() -> None:
    """Create the admin and a small demo network when the database is empty (its password goes
    to ``_password_file()``, the file of this database: any other is left as it is)."""
    password_file = _password_file()
    if db.session.scalar(select(func.count()).select_from(User)) == 0:
        password = secrets.token_urlsafe(9)
        create_user(DEV_ADMIN_EMAIL, password, "Network admin", super_admin=True)
        db.session.commit()
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(password)
        from click.testing import CliRunner

        CliRunner().invoke(seed_demo_command, ["--customers", "200", "--products", "6"],
                           catch_exceptions=False)


def login_hint() -> str:
    """How to log in, as it really is: the dev admin and its password when that account exists,
    is an active super admin and the stored password still works; else the super admins'
    addresses and how to set a password; else how to create a super admin."""
    dev_admin = User.find_by_email(DEV_ADMIN_EMAIL)
    if dev_admin is not None and dev_admin.is_super_admin and dev_admin.active:
        # this database's file, then the one file of before (a password that works is shown)
        for password_file in (_password_file(), Path(current_app.instance_path) / LEGACY_PASSWORD_FILE):
            password = password_file.read_text().strip() if password_file.exists() else ""
            if password and dev_admin.check_password(password):
                return f"log in as {DEV_ADMIN_EMAIL} / {password} (kept in {password_file})"
    admins = db.session.scalars(select(User.email).where(User.is_super_admin, User.active)
                                .order_by(User.id).limit(5)).all()
    if not admins:
        return "no super admin exists: create one with `flask create-admin`"
    return (f"log in as a super admin: {', '.join(admins)} (a forgotten password: "
            "`flask users set-password EMAIL`)")


@click.command("dev")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--mail-port", default=1025, show_default=True, type=click.IntRange(1, 65535))
@with_appcontext
def dev_command(host, port, mail_port):
    """Run the development stack until Ctrl-C: web server, one RQ worker, local mail catcher."""
    from .plugins.lifecycle import upgrade_network

    for line in upgrade_network().lines:  # a broken plugin migration is reported, not fatal here
        click.secho(line, fg="yellow", err=True)
    _ensure_demo_network()
    setup_network()  # once: Core e-mails active, default system e-mails installed
    db.session.commit()
    env = dict(os.environ, SMTP_URL=f"smtp://127.0.0.1:{mail_port}",
               BASE_URL=os.environ.get("BASE_URL", f"http://{host}:{port}"))
    flask = [sys.executable, "-m", "flask"]
    commands = {
        "mail catcher": [*flask, "mailcatcher", "--port", str(mail_port)],
        "worker": [*flask, "rq", "worker", "--with-scheduler"],
        "web": [*flask, "run", "--host", host, "--port", str(port), "--debug", "--no-reload"],
    }
    processes = {name: subprocess.Popen(cmd, env=env) for name, cmd in commands.items()}
    click.secho("\n" + terminal_safe(f"Herald runs at http://{host}:{port}/  ({login_hint()})"),
                fg="green", bold=True)  # stored addresses: escaped
    click.echo(f"Outgoing mail is caught on 127.0.0.1:{mail_port}: see Caught mail in the admin. "
               "Ctrl-C stops everything.\n")
    try:
        while all(p.poll() is None for p in processes.values()):
            time.sleep(0.5)
        dead = [name for name, p in processes.items() if p.poll() is not None]
        click.secho(f"{', '.join(dead)} stopped; stopping the rest.", fg="red")
    except KeyboardInterrupt:
        click.echo("\nStopping…")
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
