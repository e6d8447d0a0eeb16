"""Herald: the app factory, an ordered list of init steps."""
import logging

from flask import Flask

from . import (
    api,
    audit,
    auth,
    billing,
    broadcasts,
    dashboard,
    delivery,
    mailcatcher,
    network,
    plugins,
    scheduling,
    system_emails,
    tracking,
)
from .core import settings as core_settings
from .core.config import PROJECT_ROOT, ConfigError, load_config
from .mail.verp import checked_settings

# Each domain package exposes init_app(app): blueprints, CLI commands, settings, menu entries.
# The order is the order their hook callbacks and blueprints are registered in.
CORE_DOMAINS = (auth, network, core_settings, audit, plugins, dashboard, mailcatcher, tracking, broadcasts,
                delivery, scheduling, billing, system_emails, api)


def create_app(config=None) -> Flask:
    """Build a Herald app; ``config`` (a dict) overrides values read from the environment."""
    app = Flask(__name__, template_folder=str(PROJECT_ROOT / "templates"),
                static_folder="static", instance_relative_config=False)
    for step in (init_config, init_inputs, init_proxies, init_logging, init_extensions, init_security,
                 init_hooks, init_domains,
                 init_plugins, init_templates, init_errors, init_cli, init_ready):
        step(app, config)
    return app


def init_config(app, config):
    """Load configuration from the environment and ``config``; ConfigError when the return-path
    settings cannot make VERP addresses (``mail.verp.checked_settings`` says what to fix)."""
    app.config.update(load_config(config))
    app.instance_path = app.config["INSTANCE_PATH"]
    try:
        with app.app_context():  # the address rules read PRODUCTION (.test domains)
            checked_settings(app.config["RETURN_PATH_DOMAIN"], app.config["RETURN_PATH_PREFIX"])
    except ValueError as error:
        raise ConfigError(str(error)) from None


def init_inputs(app, config):
    """Request limits and the bounded ``int`` URL converter, before any route is added."""
    from .core import inputs

    inputs.install(app)


def init_proxies(app, config):
    """Behind TRUSTED_PROXIES reverse proxies, read the client's address and scheme from their
    X-Forwarded-For/-Proto headers (login throttling keys on the address); 0 trusts none."""
    hops = app.config.get("TRUSTED_PROXIES", 0)
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def init_logging(app, config):
    """Log at INFO to stderr unless the host already configured logging."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


def init_extensions(app, config):
    """Bind the unbound extensions of app.core.extensions to this app."""
    from .core.extensions import csrf, db, init_database, login_manager, migrate, redis_store
    from .core.jobs import init_job_events
    from .plugins import migrations  # noqa: F401 - registers the version-locations callback

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    redis_store.init_app(app)
    with app.app_context():
        init_database(db.engine)
        init_job_events()


def init_security(app, config):
    """Security headers on every response (CSP, HSTS …) and the sandboxed e-mail preview frames."""
    from .core import headers

    headers.init_app(app)


def init_hooks(app, config):
    """Create the hook registry and the settings registry, and declare the core's hooks."""
    from .core.hooks.catalogue import declare_all
    from .core.hooks.registry import HookRegistry
    from .core.settings.services import SettingsRegistry

    app.extensions["herald_hooks"] = registry = HookRegistry()
    app.extensions["herald_settings"] = SettingsRegistry()
    declare_all(registry)


def init_domains(app, config):
    """Run each core domain's init_app (blueprints, commands, settings, menu)."""
    for domain in CORE_DOMAINS:
        domain.init_app(app)


def init_plugins(app, config):
    """Load every plugin, register their blueprints, and switch off an active plugin whose
    migrations have not run (its code would meet a schema it does not expect)."""
    from .plugins.host import PluginHost

    host = PluginHost(app, app.extensions["herald_hooks"], app.extensions["herald_settings"])
    app.extensions["herald_plugins"] = host
    with app.app_context():
        host.load_all()
    host.register_blueprints()
    with app.app_context():
        host.check_migrations()


def init_templates(app, config):
    """Serve plugin templates as ``plugin_<slug>/...`` and add the layout's globals."""
    from .core.form_errors import page_has_errors, page_problems
    from .core.menu import admin_menu, dashboard_menu
    from .core.submissions import submission_field

    host = app.extensions["herald_plugins"]
    app.jinja_env.loader = host.template_loader(app.jinja_env.loader)
    app.jinja_env.globals.update(admin_menu=admin_menu, dashboard_menu=dashboard_menu,
                                 submission_field=submission_field, page_problems=page_problems,
                                 page_has_errors=page_has_errors)


def init_errors(app, config):
    """Friendly pages for 400, 403, 404, 405, 429 and 500, JSON under /api/."""
    from .core.errors import register_error_handlers

    register_error_handlers(app)


def init_cli(app, config):
    """Register the CLI groups that are not a domain's own."""
    from .cli import register_cli

    register_cli(app)


def init_ready(app, config):
    """Fire ``app_ready`` so plugins can finish their set-up."""
    with app.app_context():
        app.extensions["herald_hooks"].do_action("app_ready", app)


__all__ = ["create_app", "ConfigError"]
