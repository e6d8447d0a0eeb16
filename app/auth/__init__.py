"""Auth domain: users, login and logout, throttling and the role rules."""


def init_app(app):
    """Register the auth blueprint, the user loader and the role check."""
    from ..core.extensions import login_manager
    from .roles import enforce_roles
    from .services import load_user
    from .views import bp

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.user_loader(load_user)
    app.before_request(enforce_roles)
    app.register_blueprint(bp)
