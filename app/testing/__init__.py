"""Herald's test kit: the pytest plugin (entry point ``herald`` = app.testing.plugin) and its helpers.

Fixtures need no import: installing Herald registers the plugin with pytest. Helpers are imported
from here, lazily, so that loading the plugin stays cheap::

    from app.testing import PASSWORD, csrf_token, login, make_customer, make_product

Modules: plugin (app, db, isolation), settings (environment), database (migrations, rollback),
redisdb (the run's Redis database), apps (shared apps), smtp (SMTP sink), worker (RQ), web
(clients, logins, browser), factories (rows), plugins (the ``herald_plugin`` marker).
"""
import importlib

_EXPORTS = {
    "PASSWORD": "settings",
    "RunSettings": "settings",
    "csrf_token": "web",
    "login": "web",
    "make_user": "factories",
    "make_product": "factories",
    "make_customer": "factories",
    "make_customers": "factories",
    "make_membership": "factories",
    "make_site": "factories",
    "make_broadcast": "factories",
    "password_hash": "factories",
    "run_jobs": "worker",
    "JobFailed": "worker",
    "Captured": "smtp",
    "SMTPSink": "smtp",
    "write_plugin": "plugins",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    """Import a helper from its module on first use (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_EXPORTS])
