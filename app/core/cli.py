"""Helpers for the CLI commands of every domain."""
import re

import click

from .extensions import db


def fetch_or_fail(model, ident, label: str):
    """The ``model`` row with primary key ``ident``, or a ClickException saying there is none."""
    row = db.session.get(model, ident)
    if row is None:
        raise click.ClickException(f"There is no {label} {ident}.")
    return row


# C0 and C1 controls and DEL (ECMA-48: they start terminal escape sequences), and the Unicode
# bidirectional overrides and isolates (they reorder what the terminal shows).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text, keep_newlines: bool = False) -> str:
    """``text`` (any value, made a str) with every control character written as a visible escape
    (``\\x1b``, ``\\u202e``), so stored text cannot move the cursor, recolour, retitle or
    rewrite the admin's terminal; ``keep_newlines`` keeps line feeds (tracebacks)."""
    def escape(match):
        char = match.group()
        if keep_newlines and char == "\n":
            return char
        return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    return _UNSAFE.sub(escape, str(text))


def echo_safe(text, keep_newlines: bool = False, **options) -> None:
    """``click.echo`` of a line that holds stored or outside text, through ``terminal_safe``."""
    click.echo(terminal_safe(text, keep_newlines), **options)
