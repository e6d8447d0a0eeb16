"""``flask dev``: what `make run` starts: migrate, seed when empty, then web, worker and mail catcher."""
import os
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

from .auth.models import User
from .auth.services import create_user
from .core.extensions import db
from .network.cli import seed_demo_command
from .plugins.network_setup import setup_network

DEV_ADMIN_EMAIL = "admin@herald.localhost"


def _ensure_demo_network() -> str:
    """Create the admin and a small demo network when the database is empty; return the password."""

    password_file = Path(current_app.instance_path) / "dev-admin-password"
    if db.session.scalar(select(func.count()).select_from(User)) == 0:
        password = secrets.token_urlsafe(9)
        create_user(DEV_ADMIN_EMAIL, password, "Network admin", super_admin=True)
        db.session.commit()
        password_file.write_text(password)
        from click.testing import CliRunner

        CliRunner().invoke(seed_demo_command, ["--customers", "200", "--products", "6"],
                           catch_exceptions=False)
    return password_file.read_text().strip() if password_file.exists() else "(set earlier)"


@click.command("dev")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--mail-port", default=1025, show_default=True, type=int)
@with_appcontext
def dev_command(host, port, mail_port):
    """Run the development stack until Ctrl-C: web server, one RQ worker, local mail catcher."""
    from .plugins.lifecycle import upgrade_network

    for line in upgrade_network().lines:  # a broken plugin migration is reported, not fatal here
        click.secho(line, fg="yellow", err=True)
    password = _ensure_demo_network()
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
    click.secho(f"\nHerald runs at http://{host}:{port}/  (log in as {DEV_ADMIN_EMAIL} / {password})",
                fg="green", bold=True)
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
