"""Hooks of the plugin host: activation and deactivation."""
from ..registry import HookSpec

plugin_activated = HookSpec("plugin_activated", "action", """A plugin was activated by an admin.

Arguments: ``slug`` (str). Returns nothing. Runs after the plugin's own ``activate(host)``.""")

plugin_deactivated = HookSpec("plugin_deactivated", "action", """A plugin was deactivated.

Arguments: ``slug`` (str). Returns nothing. Runs after the plugin's own ``deactivate(host)``.""")
