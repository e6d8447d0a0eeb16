"""The hook API used by the core: add_action, do_action, add_filter, apply_filters and removal.

These functions work on the current app's registry (``app.extensions['herald_hooks']``). Plugins
use the same names on the ``host`` object passed to their ``setup(host)``, which tags each
registration with the plugin's slug.
"""
from flask import current_app

from .guard import PluginFault, PluginGuard
from .registry import DEFAULT_PRIORITY, HookRegistry, HookSpec, UnknownHookWarning

__all__ = ["HookRegistry", "HookSpec", "UnknownHookWarning", "PluginFault", "PluginGuard",
           "registry", "add_action",
           "add_filter", "remove_action", "remove_filter", "do_action", "apply_filters"]


def registry() -> HookRegistry:
    """The current app's hook registry."""
    return current_app.extensions["herald_hooks"]


def add_action(name, callback, priority=DEFAULT_PRIORITY):
    """Register a core callback on action ``name``."""
    return registry().add(name, callback, priority)


def add_filter(name, callback, priority=DEFAULT_PRIORITY):
    """Register a core callback on filter ``name``."""
    return registry().add(name, callback, priority)


def remove_action(name, callback, priority=None):
    """Remove a callback from action ``name``."""
    return registry().remove(name, callback, priority)


remove_filter = remove_action


def do_action(name, *args, **kwargs):
    """Run action ``name``."""
    registry().do_action(name, *args, **kwargs)


def apply_filters(name, value, *args, **kwargs):
    """Run filter ``name`` over ``value`` and return the result."""
    return registry().apply_filters(name, value, *args, **kwargs)
