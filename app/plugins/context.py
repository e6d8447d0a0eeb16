"""The ``host`` object a plugin's ``setup(host)`` receives: its API, every registration tagged."""
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, url_for

from ..core.hooks.guard import PluginFault, is_fault
from ..core.hooks.registry import DEFAULT_PRIORITY
from ..core.menu import MenuItem
from ..core.settings.services import SettingSpec, check, get_option, set_option


@dataclass(frozen=True)
class Setting:
    """A typed plugin setting for ``host.register_settings``.

    ``type``: str, text, int, float, bool, choice, email, url, host (a domain name) or secret; guessed from the
    default when left empty (choice when ``choices`` are given). ``choices``: values or
    (value, label) pairs; ``min``/``max`` bound numbers; ``required`` refuses an empty text;
    ``validate(value) -> value`` may refine the check and raises ValueError with a message.
    """
    default: Any
    label: str = ""
    type: str = ""
    help: str = ""
    choices: tuple = ()
    min: Any = None
    max: Any = None
    required: bool = False
    validate: Any = None


def _kind(setting: Setting) -> str:
    if setting.type:
        return setting.type
    if setting.choices:
        return "choice"
    return {bool: "bool", int: "int", float: "float"}.get(type(setting.default), "str")


class PluginContext:
    """The ``host`` object a plugin's ``setup(host)`` receives; every registration is tagged."""

    def __init__(self, host, info):
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
        """Add a blueprint named ``plugin_<slug>``; it answers 404 while the plugin is inactive.

        Every function it registers runs through the guard (app.plugins.web): a view's exception
        is recorded as a fault of this plugin; app-wide functions (``before_app_request``,
        ``app_context_processor``, ``app_template_filter`` ...) run only while it is active and
        never on the Plugins and login pages."""
        expected = f"plugin_{self.slug}"
        if blueprint.name != expected:
            raise ValueError(f"plugin blueprint must be named {expected!r}, not {blueprint.name!r}")
        self._host.blueprints.append((blueprint, url_prefix or f"/plugins/{self.slug}"))

    def add_menu_item(self, label, endpoint, order=100, menu="admin_menu"):
        """Add an entry to the admin menu (or ``dashboard_menu``) while the plugin is active."""
        item = MenuItem(label, endpoint, order, self.slug)
        self.add_filter(menu, lambda items: [*items, item])

    def static_url(self, filename: str) -> str:
        """The URL of ``static/<filename>`` of this plugin (served at /plugins/<slug>/static/)."""
        return url_for("plugins_static.file", slug=self.slug, filename=filename)

    # settings
    def register_settings(self, settings: dict):
        """Declare settings: ``{key: Setting(...)}``, ``{key: (default, label)}`` or ``{key: default}``.

        Raises ValueError (the plugin fails to load) for an unknown type or a refused default."""
        for key, value in settings.items():
            if not isinstance(value, Setting):
                default, label = value if isinstance(value, tuple) else (value, "")
                value = Setting(default, label)
            label = value.label or key.replace("_", " ").capitalize()
            self._host.settings.declare(SettingSpec(
                self.setting_key(key), value.default, label, value.help, _kind(value), self.slug,
                self._guarded(key, value.validate), tuple(value.choices), value.min, value.max,
                value.required))

    def _guarded(self, key, validate):
        """``validate`` run through the guard: a ValueError is the plugin's message, anything
        else is recorded as a fault and refuses the value."""
        if validate is None:
            return None

        def run(value):
            try:
                return validate(value)
            except ValueError:
                raise
            except BaseException as error:
                if not is_fault(error):
                    raise
                self._host.guard.fault(self.slug, f"setting {key}", error)
                raise ValueError(f"{key}: the plugin could not check this value ({error}).") from None
        return run

    def setting_key(self, key: str) -> str:
        """The option key under which this plugin's setting ``key`` is stored."""
        return f"plugin.{self.slug}.{key}"

    def get_setting(self, key, default=None):
        """This plugin's setting ``key`` (its declared default when never saved)."""
        return get_option(self.setting_key(key), default)

    def set_setting(self, key, value):
        """Store this plugin's setting ``key`` (the caller commits); a declared setting checks
        ``value`` first and raises ValueError with a message when it is refused."""
        spec = self._host.settings.specs.get(self.setting_key(key))
        set_option(self.setting_key(key), check(spec, value) if spec is not None else value)

    # system e-mails (app/system_emails, documented in docs/plugins.md)
    def register_event(self, slug, name, description="", payload_keys=None, sample_payload=None):
        """Register a system-email event this plugin fires with ``fire_event(slug, **payload)``.

        ``payload_keys``: {key: description} (the placeholders); ``sample_payload``: a dict, or a
        callable returning one, used for previews and test sends (a callable that raises is
        recorded as a fault and the placeholders' names are used instead).
        """
        if callable(sample_payload):
            sample_payload = self._guarded_sample(sample_payload)
        return self._host.app.extensions["herald_system_emails"].register_event(
            slug, name, description, payload_keys, sample_payload, plugin=self.slug)

    def _guarded_sample(self, sample):
        def run():
            try:
                return self._host.guard.call(self.slug, "sample_payload", sample)
            except PluginFault:
                return {}
        return run

    def register_system_email(self, slug, event, audience, subject, body, name, description="",
                              style="html", delay=0):
        """Register a default e-mail sent on ``event`` to ``audience`` (customer, admins or both).

        ``style`` is html or plain; ``delay`` is minutes (int), a timedelta or "3 days". Admins
        install it from the Reset & Import page (or it is installed at network set-up).
        """
        return self._host.app.extensions["herald_system_emails"].register_email(
            slug, event, audience, subject, body, name, description, style, delay, plugin=self.slug)
