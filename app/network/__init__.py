"""Network domain: customers, sites, products, memberships and network-wide options."""


def init_app(app):
    """Register the network admin blueprint, menu entries, commands and settings."""
    from ..core.menu import add_core_menu_item
    from ..core.settings.services import SettingSpec
    from .cli import expire_memberships_command, seed_demo_command
    from .public_views import bp as public_bp
    from .views import bp

    app.register_blueprint(bp)
    app.register_blueprint(public_bp)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(expire_memberships_command)
    app.extensions["herald_settings"].declare(SettingSpec(
        "network.confirm_email", True, "Ask new customers to confirm their e-mail address",
        "Sends the 'Confirm e-mail address' system e-mail on registration.", type="bool"))
    for label, endpoint, order in (("Dashboard", "network.dashboard", 10),
                                   ("Customers", "network.customers", 20),
                                   ("Products", "network.products", 30),
                                   ("Sites", "network.sites", 40)):
        add_core_menu_item(app, label, endpoint, order)
