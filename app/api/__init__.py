"""API domain: API keys and the JSON API under /api/v1 for scripts and deployments."""


def init_app(app):
    """Register the JSON API (CSRF-exempt: it accepts API keys only), the keys' profile panel,
    their routes and the ``flask api-keys`` commands."""
    from ..core.extensions import csrf
    from . import models  # noqa: F401
    from .cli import api_keys_cli
    from .key_views import api_keys_panel
    from .key_views import bp as keys_bp
    from .views import bp

    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.register_blueprint(keys_bp)
    app.cli.add_command(api_keys_cli)
    app.extensions["herald_hooks"].add("admin_profile_panels", api_keys_panel)
