"""Broadcasts domain: notices and e-mails to customers, targeted by customer or product."""


def init_app(app):
    """Load the broadcasts models (views, forms and API are added by this domain's views)."""
    from . import models  # noqa: F401
