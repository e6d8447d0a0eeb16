"""Delivery domain: planning runs into a per-recipient ledger, sending by RQ workers, reporting."""


def init_app(app):
    """Declare the delivery settings, register the run pages, the JSON API and ``flask delivery``."""
    from . import models  # noqa: F401
    from .settings import declare

    declare(app)
