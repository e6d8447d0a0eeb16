"""Auth domain: users, login and logout, throttling and the role rules."""


def init_app(app):
    """Register the auth blueprint, the user loader, the role check and the commands."""
    from ..core.extensions import login_manager
    from .roles import enforce_roles
    from .cli import auth_cli, users_cli
    from .services import load_user
    from . import profile  # noqa: F401 - adds the profile pages to the blueprint
    from .views import bp

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.user_loader(load_user)
    app.before_request(enforce_roles)
    app.register_blueprint(bp)
    app.cli.add_command(users_cli)
    app.cli.add_command(auth_cli)
