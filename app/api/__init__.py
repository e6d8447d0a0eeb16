"""API domain: API keys and the JSON API under /api/v1 for scripts and deployments."""


def init_app(app):
    """Load the API key model."""
    from . import models  # noqa: F401
