"""Hooks of the plugin host: activation, deactivation, upgrade and uninstall."""
from ..registry import HookSpec

plugin_activated = HookSpec("plugin_activated", "action", """A plugin was activated by an admin.

Arguments: ``slug`` (str), ``first_time`` (keyword, bool: never activated before). Returns
nothing. Runs after the plugin's own ``activate(host)``, before the commit.""")

plugin_deactivated = HookSpec("plugin_deactivated", "action", """A plugin was deactivated.

Arguments: ``slug`` (str). Returns nothing. Runs after the plugin's own ``deactivate(host)``.""")

plugin_upgraded = HookSpec("plugin_upgraded", "action", """A plugin's new version was set up.

Arguments: ``slug`` (str), ``from_version`` (str or None), ``to_version`` (str). Returns nothing.
Runs after the plugin's own ``upgrade(host, from_version)``, before the commit (in `flask db
upgrade`, or when an admin activates a plugin whose version changed).""")

plugin_uninstalled = HookSpec("plugin_uninstalled", "action", """A plugin was uninstalled.

Arguments: ``slug`` (str). Returns nothing. Runs after the plugin's own ``uninstall(host)`` and the
removal of its settings and system e-mails, before the commit and before its migration branch
is downgraded.""")
