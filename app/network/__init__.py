"""Network domain: customers, sites, products, memberships and network-wide options."""


def init_app(app):
    """Register the network admin blueprint, its menu entries and the seed-demo command."""
    from ..menu import add_core_menu_item
    from .cli import seed_demo_command
    from .views import bp

    app.register_blueprint(bp)
    app.cli.add_command(seed_demo_command)
    for label, endpoint, order in (("Dashboard", "network.dashboard", 10),
                                   ("Customers", "network.customers", 20),
                                   ("Products", "network.products", 30),
                                   ("Sites", "network.sites", 40)):
        add_core_menu_item(app, label, endpoint, order)
