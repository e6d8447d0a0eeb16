"""API domain: API keys and their authentication; each domain's JSON endpoints live in its api.py."""


def init_app(app):
    """Register the keys' profile panel, their routes and the ``flask api-keys`` commands."""
    from . import models  # noqa: F401
    from .cli import api_keys_cli
    from .key_views import api_keys_panel
    from .key_views import bp as keys_bp

    app.register_blueprint(keys_bp)
    app.cli.add_command(api_keys_cli)
    app.extensions["herald_hooks"].add("admin_profile_panels", api_keys_panel)
