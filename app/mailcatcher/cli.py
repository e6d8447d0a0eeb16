"""``flask mailcatcher``: run the loopback SMTP server that catches all outgoing mail."""
import time

import click
from aiosmtpd.controller import Controller
from flask import current_app
from flask.cli import with_appcontext

from .store import MaildirHandler


@click.command("mailcatcher")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=1025, show_default=True, type=click.IntRange(1, 65535))
@with_appcontext
def mailcatcher_command(host, port):
    """Accept every message on HOST:PORT and keep it for the Caught mail page."""
    directory = current_app.config["MAILCATCHER_DIR"]
    controller = Controller(MaildirHandler(directory), hostname=host, port=port)
    controller.start()
    click.echo(f"Mail catcher listening on {host}:{port}, keeping mail in {directory}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
