"""Herald's test kit: csrf_token, login, and the helpers and factories of its modules, imported lazily."""
# Fixtures need no import: installing Herald registers app.testing.plugin with pytest (pytest11).
# Helpers are imported from here, lazily, so that loading the plugin stays cheap:
#     from app.testing import PASSWORD, csrf_token, login, make_customer, make_product
# Modules: plugin (app, db, isolation), settings (environment), database (migrations, rollback),
# redisdb (the run's Redis database), apps (shared apps), smtp (SMTP sink), worker (RQ), web
# (clients, logins, browser), factories (rows), plugins (the herald_plugin marker).
import importlib
import re

CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')

_EXPORTS = {
    "PASSWORD": "settings",
    "RunSettings": "settings",
    "make_user": "factories",
    "make_product": "factories",
    "make_customer": "factories",
    "make_customers": "factories",
    "make_membership": "factories",
    "make_site": "factories",
    "make_broadcast": "factories",
    "audit_entries": "factories",
    "password_hash": "factories",
    "run_jobs": "worker",
    "JobFailed": "worker",
    "Captured": "smtp",
    "SMTPSink": "smtp",
    "write_plugin": "plugins",
    "mail_frames": "web",
    "served_get": "web",
}
__all__ = sorted([*_EXPORTS, "csrf_token", "login"])


def csrf_token(client, url="/login") -> str:
    """A valid CSRF token for ``client``'s session, read from the page at ``url``."""
    page = client.get(url).get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def login(client, user):
    """Log ``user`` (a User or its id) in on ``client`` through its session; returns ``client``.

    No login form round trip (fast). The user Flask-Login cached in the test's app context is
    forgotten too, so code in the test body sees the switch (each request starts afresh anyway).
    """
    from flask import g, has_app_context

    if has_app_context():
        g.pop("_login_user", None)
    if isinstance(user, int):
        from app.auth.models import User
        from app.core.extensions import db

        with client.application.app_context():
            user = db.session.get(User, user)
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()  # "<id>:<session token>", Flask-Login's alternative id
        session["_fresh"] = True
    return client


def __getattr__(name):
    """Import a helper from its module on first use (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_EXPORTS])
