"""Hooks of the plugin host: activation and deactivation."""
from ..registry import HookSpec

plugin_activated = HookSpec("plugin_activated", "action", """A plugin was activated by an admin.

Arguments: ``slug`` (str), ``first_time`` (keyword, bool: never activated before). Returns
nothing. Runs after the plugin's own ``activate(host)``, before the commit.""")

plugin_deactivated = HookSpec("plugin_deactivated", "action", """A plugin was deactivated.

Arguments: ``slug`` (str). Returns nothing. Runs after the plugin's own ``deactivate(host)``.""")
