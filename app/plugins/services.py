"""Activating and deactivating plugins, with their callbacks and the requirement checks."""
from flask import current_app

from ..audit.services import record
from ..core.extensions import db
from ..core.hooks import do_action
from ..core.utils import utcnow
from .models import PluginState


class PluginError(Exception):
    """An activation or deactivation that cannot be done; the message is shown to the admin."""


class UnknownPlugin(PluginError):
    """No plugin has this slug (the views answer 404)."""


def plugin_host():
    """The current app's PluginHost."""
    return current_app.extensions["herald_plugins"]


def _info(slug):
    info = plugin_host().plugins.get(slug)
    if info is None:
        raise UnknownPlugin(f"There is no plugin named {slug!r}.")
    return info


def activate(slug: str) -> bool:
    """Switch plugin ``slug`` on and run its ``activate(host)``; True the first time ever."""
    host = plugin_host()
    info = _info(slug)
    if not info.loaded:
        raise PluginError(f"{info.name} cannot be activated: it failed to load.")
    missing = [r for r in info.requires if not host.is_active(r)]
    if missing:
        raise PluginError(f"{info.name} requires {', '.join(missing)}: activate that first.")
    state = db.session.get(PluginState, slug) or PluginState(slug=slug)
    if state.active:
        return False
    first_time = state.first_activated_at is None
    state.active, state.version, state.activated_at = True, info.version, utcnow()
    state.first_activated_at = state.first_activated_at or state.activated_at
    db.session.add(state)
    db.session.flush()
    host.forget_cache()
    _call(info, "activate")
    do_action("plugin_activated", slug, first_time=first_time)
    record("plugin.activated", ("plugin", slug, info.name), f"version {info.version}")
    db.session.commit()
    host.forget_cache()
    return first_time


def deactivate(slug: str) -> None:
    """Switch plugin ``slug`` off after running its ``deactivate(host)``; dependants go first."""
    host = plugin_host()
    info = _info(slug)
    dependants = [p.name for p in host.plugins.values()
                  if slug in p.requires and host.is_active(p.slug)]
    if dependants:
        raise PluginError(f"{', '.join(dependants)} require {info.name}: deactivate them first.")
    state = db.session.get(PluginState, slug)
    if state is None or not state.active:
        return
    if info.loaded:
        _call(info, "deactivate")
    do_action("plugin_deactivated", slug)
    record("plugin.deactivated", ("plugin", slug, info.name), "")
    state.active = False
    db.session.commit()
    host.forget_cache()


def _call(info, name):
    callback = getattr(info.module, name, None)
    if callback is not None:
        callback(plugin_host().contexts[info.slug])


def plugin_rows():
    """Every known plugin with its state, for the Plugins page."""
    host = plugin_host()
    active = host.active_slugs()
    return [{"info": info, "active": slug in active} for slug, info in host.plugins.items()]
