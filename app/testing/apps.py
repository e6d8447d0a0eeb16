"""Test apps: one per distinct config for the whole run, with what a test changes on it put back."""
from .settings import app_config, config_key

REGISTRIES = ("herald_hooks", "herald_settings", "herald_system_emails")


def _snapshot(mapping: dict) -> tuple:
    """``(mapping, a copy)``; list values are copied too (hook registrations are lists)."""
    return mapping, {key: list(value) if isinstance(value, list) else value for key, value in mapping.items()}


def _restore(snapshot: tuple) -> dict:
    """Put a snapshot's mapping back in place (whoever holds it sees the old content); returns it."""
    mapping, content = snapshot
    if mapping != content:
        mapping.clear()
        mapping.update({key: list(value) if isinstance(value, list) else value
                        for key, value in content.items()})
    return mapping


class AppState:
    """A snapshot of what tests change on a shared app, restored on exit.

    That is the config (``app.config[...] = ...``), ``app.extensions`` (entries added, such as
    caches keyed by row ids that the next test reuses, are dropped; plain dicts are put back)
    and the dict attributes of the registries: hook callbacks added with ``add_action`` or
    ``add_filter``, declared settings, system-email events and defaults. Database rows and Redis
    keys are reset elsewhere.
    """

    def __init__(self, app):
        self.app = app
        self.config = _snapshot(app.config)
        self.extensions = _snapshot(app.extensions)
        self.dicts = [_snapshot(value) for value in app.extensions.values() if type(value) is dict]
        self.dicts += [_snapshot(value) for name in REGISTRIES if name in app.extensions
                       for value in vars(app.extensions[name]).values() if type(value) is dict]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.restore()

    def restore(self) -> None:
        """Put the config, the extensions and the registries back as they were at the snapshot."""
        _restore(self.config)
        _restore(self.extensions)
        for snapshot in self.dicts:
            _restore(snapshot)


class AppCache:
    """Builds test apps on the run's database and keeps one per distinct extra config.

    Building an app costs ~0.15-0.35 s (every plugin's setup, every blueprint); the tests of a
    run use a handful of configs, so most tests get an app that is already built.
    """

    def __init__(self, database_url, redis_url, smtp_url, tmp_path_factory):
        self.database_url, self.redis_url, self.smtp_url = database_url, redis_url, smtp_url
        self.tmp_path_factory = tmp_path_factory
        self.apps = {}

    def build(self, instance, **extra):
        """A new app on the run's database, Redis and SMTP sink, with ``extra`` config on top."""
        from flask import request_started

        from app import create_app

        application = create_app(app_config(self.database_url, self.redis_url, instance, self.smtp_url,
                                            **extra))
        request_started.connect(fresh_g, application)
        return application

    def get(self, extra: dict):
        """The shared app for ``extra`` config, built on first use."""
        key = config_key(extra)
        if key not in self.apps:
            self.apps[key] = self.build(self.tmp_path_factory.mktemp("instance"), **extra)
        return self.apps[key]

    def close(self) -> None:
        """Close every app's database connections (at the end of the run)."""
        for application in self.apps.values():
            dispose(application)
        self.apps.clear()


def fresh_g(sender, **extra) -> None:
    """Empty ``g`` as each request starts, as in production: a test's requests share the app
    context the test pushed, and a user Flask-Login cached in it would leak into the next
    request, even one of another client."""
    from flask import g

    for name in list(g):
        g.pop(name)


def dispose(application) -> None:
    """Close ``application``'s database session and connection pool."""
    from app.core.extensions import db

    with application.app_context():
        db.session.remove()
        db.engine.dispose()
