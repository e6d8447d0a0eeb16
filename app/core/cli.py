"""Helpers for the CLI commands of every domain."""

import click

from .extensions import db
from .inputs import escape_controls


def fetch_or_fail(model, ident, label: str):
    """The ``model`` row with primary key ``ident``, or a ClickException saying there is none."""
    row = db.session.get(model, ident)
    if row is None:
        raise click.ClickException(f"There is no {label} {ident}.")
    return row


def terminal_safe(text, keep_newlines: bool = False) -> str:
    """``text`` (any value, made a str) with every control character written as a visible escape
    (``\\x1b``, ``\\u202e``), so stored text cannot move the cursor, recolour, retitle or
    rewrite the admin's terminal; ``keep_newlines`` keeps line feeds (tracebacks). The rule is
    ``inputs.escape_controls``'s, which stored text from outside goes through too."""
    return escape_controls(text, keep_newlines)


def echo_safe(text, keep_newlines: bool = False, **options) -> None:
    """``click.echo`` of a line that holds stored or outside text, through ``terminal_safe``."""
    click.echo(terminal_safe(text, keep_newlines), **options)
