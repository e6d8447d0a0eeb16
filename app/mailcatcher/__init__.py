"""The local mail catcher of `make run`: an SMTP server on loopback that keeps every message."""


def init_app(app):
    """Register the caught-mail pages, the ``flask mailcatcher`` command and the menu entry."""
    from ..core.menu import add_core_menu_item
    from .cli import mailcatcher_command
    from .views import bp

    app.register_blueprint(bp)
    app.cli.add_command(mailcatcher_command)
    add_core_menu_item(app, "Caught mail", "mailcatcher.index", 95)
