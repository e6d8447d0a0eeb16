"""Audit domain: the append-only log of who changed what (web, API, CLI), its page and commands."""


def init_app(app):
    """Load the audit model (its views, commands and hook listeners follow)."""
    from . import models  # noqa: F401
