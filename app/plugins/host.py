"""The plugin host: loads plugins, runs their code through one guard, and knows which are active."""
import logging

from flask import Blueprint, g, has_app_context, has_request_context, request
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..core.extensions import db
from ..core.hooks.guard import PluginFault, PluginGuard
from ..core.hooks.registry import HookRegistry
from .context import PluginContext
from .discovery import PluginInfo, discover
from .faults import FaultStore
from .isolation import statement_scope
from .models import PluginState
from .web import BlueprintGuard, PluginSetupError, guarded_view, snapshot

log = logging.getLogger(__name__)
PLUGIN_FREE = "herald.plugin_free"  # set in request.environ by pages that never run plugin code
# Pages no plugin code runs on, so an admin can always log in and switch a plugin off: the
# Plugins page runs no hook callback; these endpoints also run no plugin blueprint's app-wide
# request hooks, context processors or template functions.
PLUGIN_FREE_BLUEPRINTS = ("plugins", "plugins_static")
WEB_PLUGIN_FREE_ENDPOINTS = ("static", "auth.login", "auth.logout")


class PluginHost:
    """Loads every plugin once per app and answers which ones are active, per request.

    Every call into plugin code goes through ``self.guard``: hook callbacks (the registry uses
    it), setup, the lifecycle callbacks and the plugins' views. Faults are stored in
    ``self.faults`` (Redis), which also switches a plugin off after repeated faults.
    """

    def __init__(self, app, hooks: HookRegistry, settings):
        self.app = app
        self.hooks = hooks
        self.settings = settings
        self.plugins: dict[str, PluginInfo] = {}
        self.contexts: dict[str, PluginContext] = {}
        self.blueprints: list[tuple[Blueprint, str]] = []
        self.schema_cache: dict = {}  # the parsed migration scripts (app.plugins.schema)
        self.faults = FaultStore(app)
        self.guard = PluginGuard(report=self._report, isolate=statement_scope,
                                 slow=self.faults.record_slow,
                                 slow_seconds=app.config["PLUGIN_SLOW_SECONDS"])
        hooks.guard = self.guard
        hooks.is_active = self.runs

    def load_all(self) -> None:
        """Discover plugins and run each one's ``setup(host)``; failures are recorded, not raised.

        The bundled plugins are set up first, then the others in slug order: a plugin that
        registers a slug a bundled one uses (a system e-mail, an event) is the one that fails."""
        found = discover(self.app.config["PLUGINS_DIR"])
        self.plugins.update((info.slug, info) for info in found)
        for info in sorted(found, key=lambda info: not info.bundled):
            if info.error:
                log.error("plugin %s cannot be loaded:\n%s", info.slug, info.error)
                continue
            context = PluginContext(self, info)
            self.contexts[info.slug] = context
            setup = getattr(info.module, "setup", None)
            try:
                if setup is None:
                    raise TypeError(f"plugin {info.slug} has no setup(host) function")
                self.guard.call(info.slug, "setup", setup, context)
            except (PluginFault, TypeError) as error:
                info.error = getattr(error, "traceback", None) or str(error)
                self._drop(info.slug)
                self.blueprints = [(bp, p) for bp, p in self.blueprints
                                   if bp.name != f"plugin_{info.slug}"]

    def _drop(self, slug: str) -> None:
        """Forget what plugin ``slug`` registered (it failed to load): hooks, system e-mails."""
        self.hooks.remove_plugin(slug)
        emails = self.app.extensions.get("herald_system_emails")
        if emails is not None:
            emails.remove_plugin(slug)

    def check_migrations(self) -> None:
        """Suspend each switched-on plugin whose migrations are not all applied (a failed or
        missing ``flask db upgrade``), whatever Redis remembers; ``flask db upgrade`` lifts it
        when the branch migrates. Runs at start in every process."""
        from .schema import pending_migrations  # reads Alembic's scripts: only when needed

        slugs = [s for s in self.switched_on() if s in self.plugins and self.plugins[s].migrations_dir]
        if not slugs:
            return
        try:
            for slug in slugs:
                if self.plugins[slug].loaded and pending_migrations(self.plugins[slug]):
                    self.faults.suspend(slug, "migration", "its migrations have not run: run "
                                        "`flask db upgrade`")
        except Exception as error:  # noqa: BLE001 - the start must not fail on a diagnostic
            log.warning("cannot check the plugins' migrations at start: %s", error)

    def _report(self, fault: PluginFault) -> None:
        """The guard's reporter: store the fault (setup errors stay on the PluginInfo)."""
        if fault.where == "setup":
            return
        if self.faults.record(fault) and has_app_context():
            cached = g.get("_herald_active_plugins")
            if cached is not None:  # stop calling it for the rest of this request or job
                g._herald_active_plugins = cached - {fault.slug}

    def register_blueprints(self) -> None:
        """Register every plugin blueprint on the app with each function it adds wrapped in the
        guard (app.plugins.web): its views, and its app-wide request hooks, error handlers and
        template functions. A blueprint that cannot be guarded makes its plugin fail to load."""
        for blueprint, url_prefix in self.blueprints:
            slug = blueprint.name.removeprefix("plugin_")
            before = snapshot(self.app)
            try:
                try:
                    self.guard.call(slug, "setup", self.app.register_blueprint, blueprint,
                                    url_prefix=url_prefix)
                finally:
                    BlueprintGuard(self, slug, blueprint.name).wrap_new(self.app, before)
            except (PluginFault, PluginSetupError) as error:
                self.plugins[slug].error = getattr(error, "traceback", None) or str(error)
                log.error("plugin %s cannot be loaded: %s", slug, error)
                self._drop(slug)
            for endpoint, view in list(self.app.view_functions.items()):
                if endpoint.startswith(blueprint.name + "."):
                    self.app.view_functions[endpoint] = guarded_view(self, slug, endpoint, view)

    def template_loader(self, core_loader):
        """A loader serving core templates plus ``plugin_<slug>/...`` from each plugin."""
        prefixed = {f"plugin_{slug}": FileSystemLoader(str(info.templates_dir))
                    for slug, info in self.plugins.items() if info.templates_dir}
        return ChoiceLoader([core_loader, PrefixLoader(prefixed)])

    def migration_dirs(self) -> list[str]:
        """The Alembic version folders of every plugin that has migrations."""
        return [str(info.migrations_dir) for info in self.plugins.values() if info.migrations_dir]

    # activity
    def switched_on(self) -> frozenset:
        """Slugs the admins switched on (stored in the database), loaded or not, suspended or not."""
        try:
            with db.engine.connect() as connection:
                rows = connection.execute(select(PluginState.slug).where(PluginState.active))
                return frozenset(row[0] for row in rows)
        except SQLAlchemyError:  # table not migrated yet: nothing is active
            return frozenset()

    def active_slugs(self) -> frozenset:
        """Slugs of the active plugins (switched on, loaded, not suspended by recovery mode),
        read once per request or job."""
        if has_app_context():
            cached = g.get("_herald_active_plugins")
            if cached is None:
                cached = g._herald_active_plugins = self._read_active()
            return cached
        with self.app.app_context():
            return self._read_active()

    def _read_active(self) -> frozenset:
        slugs = self.switched_on()
        if not slugs:
            return slugs
        suspended = self.faults.suspended()
        return frozenset(s for s in slugs
                         if s in self.plugins and self.plugins[s].loaded and s not in suspended)

    def is_active(self, slug: str) -> bool:
        """True when plugin ``slug`` is loaded, switched on and not suspended."""
        return slug in self.active_slugs()

    def runs(self, slug: str) -> bool:
        """True when plugin ``slug``'s hook callbacks may run now: it is active and this page is
        not one that must work without plugin code (the Plugins page)."""
        if has_request_context() and (request.environ.get(PLUGIN_FREE)
                                      or request.blueprint in PLUGIN_FREE_BLUEPRINTS):
            return False
        return self.is_active(slug)

    def web_runs(self, slug: str) -> bool:
        """True when plugin ``slug``'s app-wide web functions (before_app_request, context
        processors, template filters ...) may run now: as ``runs``, and never on the login page
        or static files."""
        if has_request_context() and request.endpoint in WEB_PLUGIN_FREE_ENDPOINTS:
            return False
        return self.runs(slug)

    def forget_cache(self) -> None:
        """Drop the cached active set so this request sees an activation it just made."""
        if has_app_context():
            g.pop("_herald_active_plugins", None)
