"""Tracking domain: suppression list, unsubscribes, bounces, complaints, opens and clicks."""


def init_app(app):
    """Load the tracking models."""
    from . import models  # noqa: F401
