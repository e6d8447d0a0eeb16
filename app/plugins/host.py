"""The plugin host: loads plugins, gives each a tagged ``host`` API, and knows which are active."""
import logging
import traceback

from flask import Blueprint, abort, g, has_app_context
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..core.extensions import db
from ..core.hooks.registry import DEFAULT_PRIORITY, HookRegistry
from ..core.menu import MenuItem
from ..core.settings.services import SettingSpec, get_option, set_option
from .discovery import PluginInfo, discover
from .models import PluginState

log = logging.getLogger(__name__)


class PluginContext:
    """The ``host`` object a plugin's ``setup(host)`` receives; every registration is tagged."""

    def __init__(self, host: "PluginHost", info: PluginInfo):
        self._host = host
        self.info = info
        self.slug = info.slug
        self.extensions: dict = {}  # room for domains to attach per-plugin state

    # hooks
    def add_action(self, name, callback, priority=DEFAULT_PRIORITY):
        """Register ``callback`` on action ``name`` for this plugin."""
        return self._host.hooks.add(name, callback, priority, plugin=self.slug)

    add_filter = add_action

    def remove_action(self, name, callback, priority=None):
        """Remove a callback from a hook."""
        return self._host.hooks.remove(name, callback, priority)

    remove_filter = remove_action

    def do_action(self, name, *args, **kwargs):
        """Run an action (a plugin may fire its own hooks)."""
        self._host.hooks.do_action(name, *args, **kwargs)

    def apply_filters(self, name, value, *args, **kwargs):
        """Run a filter and return the filtered value."""
        return self._host.hooks.apply_filters(name, value, *args, **kwargs)

    def declare_hook(self, spec):
        """Declare a hook of this plugin's own so other plugins can use it without a warning."""
        self._host.hooks.declare(spec)

    # web
    def add_blueprint(self, blueprint: Blueprint, url_prefix=None):
        """Add a blueprint named ``plugin_<slug>``; it answers 404 while the plugin is inactive."""
        expected = f"plugin_{self.slug}"
        if blueprint.name != expected:
            raise ValueError(f"plugin blueprint must be named {expected!r}, not {blueprint.name!r}")
        slug, host = self.slug, self._host
        blueprint.before_request(lambda: None if host.is_active(slug) else abort(404))
        host.blueprints.append((blueprint, url_prefix or f"/plugins/{self.slug}"))

    def add_menu_item(self, label, endpoint, order=100, menu="admin_menu"):
        """Add an entry to the admin menu (or ``dashboard_menu``) while the plugin is active."""
        item = MenuItem(label, endpoint, order, self.slug)
        self.add_filter(menu, lambda items: [*items, item])

    # settings
    def register_settings(self, settings: dict):
        """Declare settings with defaults: ``{key: (default, label)}`` or ``{key: default}``."""
        for key, value in settings.items():
            default, label = value if isinstance(value, tuple) else (value, key.replace("_", " "))
            kind = {bool: "bool", int: "int", float: "float"}.get(type(default), "str")
            self._host.settings.declare(SettingSpec(self.setting_key(key), default,
                                                    label.capitalize(), type=kind, owner=self.slug))

    def setting_key(self, key: str) -> str:
        """The option key under which this plugin's setting ``key`` is stored."""
        return f"plugin.{self.slug}.{key}"

    def get_setting(self, key, default=None):
        """This plugin's setting ``key`` (its declared default when never saved)."""
        return get_option(self.setting_key(key), default)

    def set_setting(self, key, value):
        """Store this plugin's setting ``key`` (the caller commits)."""
        set_option(self.setting_key(key), value)

    # system e-mails (app/system_emails, documented in docs/plugins.md)
    def register_event(self, slug, name, description="", payload_keys=None, sample_payload=None):
        """Register a system-email event this plugin fires with ``fire_event(slug, **payload)``.

        ``payload_keys``: {key: description} (the placeholders); ``sample_payload``: a dict, or a
        callable returning one, used for previews and test sends.
        """
        return self._host.app.extensions["herald_system_emails"].register_event(
            slug, name, description, payload_keys, sample_payload, plugin=self.slug)

    def register_system_email(self, slug, event, audience, subject, body, name, description="",
                              style="html", delay=0):
        """Register a default e-mail sent on ``event`` to ``audience`` (customer, admins or both).

        ``style`` is html or plain; ``delay`` is minutes (int), a timedelta or "3 days". Admins
        install it from the Reset & Import page (or it is installed at network set-up).
        """
        return self._host.app.extensions["herald_system_emails"].register_email(
            slug, event, audience, subject, body, name, description, style, delay, plugin=self.slug)


class PluginHost:
    """Loads every plugin once per app and answers which ones are active, per request."""

    def __init__(self, app, hooks: HookRegistry, settings):
        self.app = app
        self.hooks = hooks
        self.settings = settings
        self.plugins: dict[str, PluginInfo] = {}
        self.contexts: dict[str, PluginContext] = {}
        self.blueprints: list[tuple[Blueprint, str]] = []
        hooks.is_active = self.is_active

    def load_all(self) -> None:
        """Discover plugins and run each one's ``setup(host)``; failures are recorded, not raised."""
        for info in discover(self.app.config["PLUGINS_DIR"]):
            self.plugins[info.slug] = info
            if info.error:
                log.error("plugin %s failed to import:\n%s", info.slug, info.error)
                continue
            context = PluginContext(self, info)
            self.contexts[info.slug] = context
            setup = getattr(info.module, "setup", None)
            try:
                if setup is None:
                    raise TypeError(f"plugin {info.slug} has no setup(host) function")
                setup(context)
            except Exception:
                info.error = traceback.format_exc()
                self.hooks.remove_plugin(info.slug)
                self.blueprints = [(bp, p) for bp, p in self.blueprints
                                   if bp.name != f"plugin_{info.slug}"]
                log.error("plugin %s failed in setup:\n%s", info.slug, info.error)

    def template_loader(self, core_loader):
        """A loader serving core templates plus ``plugin_<slug>/...`` from each plugin."""
        prefixed = {f"plugin_{slug}": FileSystemLoader(str(info.templates_dir))
                    for slug, info in self.plugins.items() if info.templates_dir}
        return ChoiceLoader([core_loader, PrefixLoader(prefixed)])

    def migration_dirs(self) -> list[str]:
        """The Alembic version folders of every plugin that has migrations."""
        return [str(info.migrations_dir) for info in self.plugins.values() if info.migrations_dir]

    # activity
    def active_slugs(self) -> frozenset:
        """Slugs of the active, loaded plugins, read once per request or job from the database."""
        if has_app_context():
            cached = g.get("_herald_active_plugins")
            if cached is None:
                cached = g._herald_active_plugins = self._read_active()
            return cached
        with self.app.app_context():
            return self._read_active()

    def _read_active(self) -> frozenset:
        try:
            with db.engine.connect() as connection:
                rows = connection.execute(select(PluginState.slug).where(PluginState.active))
                slugs = {row[0] for row in rows}
        except SQLAlchemyError:  # table not migrated yet: nothing is active
            return frozenset()
        return frozenset(s for s in slugs if s in self.plugins and self.plugins[s].loaded)

    def is_active(self, slug: str) -> bool:
        """True when plugin ``slug`` is loaded and switched on."""
        return slug in self.active_slugs()

    def forget_cache(self) -> None:
        """Drop the cached active set so this request sees an activation it just made."""
        if has_app_context():
            g.pop("_herald_active_plugins", None)
