"""API domain: API keys and their authentication; each domain's JSON endpoints live in its api.py."""


def init_app(app):
    """Register the keys' profile panel, their routes, the OpenAPI description and ``flask api-keys``."""
    from . import models  # noqa: F401
    from .cli import api_keys_cli
    from .key_views import api_keys_panel
    from .key_views import bp as keys_bp
    from .openapi import bp as openapi_bp

    app.register_blueprint(keys_bp)
    app.register_blueprint(openapi_bp)
    app.cli.add_command(api_keys_cli)
    app.extensions["herald_hooks"].add("admin_profile_panels", api_keys_panel)
