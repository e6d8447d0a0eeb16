"""Helpers for the CLI commands of every domain."""
import click

from .extensions import db


def fetch_or_fail(model, ident, label: str):
    """The ``model`` row with primary key ``ident``, or a ClickException saying there is none."""
    row = db.session.get(model, ident)
    if row is None:
        raise click.ClickException(f"There is no {label} {ident}.")
    return row
