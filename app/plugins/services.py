"""Activating, deactivating and upgrading plugins, with their callbacks run through the guard."""
from flask import current_app
from sqlalchemy import inspect, update

from ..audit.services import record
from ..core.extensions import db
from ..core.hooks import do_action
from ..core.hooks.guard import PluginFault
from ..core.jobs import after_commit
from ..core.utils import utcnow
from .models import PluginState
from .schema import pending_migrations


class PluginError(Exception):
    """An activation or deactivation that cannot be done; the message is shown to the admin."""


class UnknownPlugin(PluginError):
    """No plugin has this slug (the views answer 404)."""


def plugin_host():
    """The current app's PluginHost."""
    return current_app.extensions["herald_plugins"]


def plugin_info(slug):
    """The PluginInfo of ``slug``; raises UnknownPlugin."""
    info = plugin_host().plugins.get(slug)
    if info is None:
        raise UnknownPlugin(f"There is no plugin named {slug!r}.")
    return info


def activation_problem(info, applied=None) -> str | None:
    """Why plugin ``info`` cannot be activated now (it failed to load, has another plugin's
    slug, or its migrations have not run), or None. Runs no plugin code; ``applied`` as for
    ``schema.pending_migrations``."""
    if info.conflict:
        return info.error
    if not info.loaded:
        return f"{info.name} cannot be activated: it failed to load."
    if pending_migrations(info, applied):
        records = plugin_host().faults.faults([info.slug]).get(info.slug, [])
        failed = next((r.error for r in records if r.where == "migration"), None)
        why = f"its migration failed ({failed})" if failed else "its migrations have not run"
        return (f"{info.name} cannot be activated: {why}. Fix the migration if needed, then run "
                "`flask db upgrade`.")
    return None


def activate(slug: str) -> bool:
    """Switch plugin ``slug`` on and run its ``activate(host)`` (after ``upgrade(host, from)``
    when its version changed since it last ran); True the first time ever. Commits.

    Activating a plugin recovery mode switched off resumes it. Raises PluginError with the
    reason (the plugin's own error included) and leaves the plugin off when anything fails."""
    host = plugin_host()
    info = plugin_info(slug)
    problem = activation_problem(info)
    if problem:
        raise PluginError(problem)
    missing = [r for r in info.requires if not host.is_active(r)]
    if missing:
        raise PluginError(f"{info.name} requires {', '.join(missing)}: activate that first.")
    state = db.session.get(PluginState, slug) or PluginState(slug=slug)
    if state.active:
        host.faults.reset_count(slug)  # resume a suspended plugin
        host.forget_cache()
        return False
    before = _stored_fields(state)
    first_time = state.first_activated_at is None
    try:
        if not first_time and state.version != info.version:
            upgrade(info, state)
        state.active, state.version, state.activated_at = True, info.version, utcnow()
        state.first_activated_at = state.first_activated_at or state.activated_at
        db.session.add(state)
        db.session.flush()
        host.forget_cache()
        call(info, "activate")
    except PluginFault as fault:
        db.session.rollback()
        _restore(slug, before)
        host.forget_cache()
        raise PluginError(f"{info.name} could not be activated: its {fault.where}() raised "
                          f"{fault.summary}. It stays inactive; the traceback is on the Plugins page.")
    do_action("plugin_activated", slug, first_time=first_time)
    record("plugin.activated", ("plugin", slug, info.name), f"version {info.version}")
    db.session.commit()
    host.faults.reset_count(slug)
    host.forget_cache()
    return first_time


STORED = ("active", "version", "activated_at", "first_activated_at")


def _stored_fields(state) -> dict | None:
    """The stored fields of ``state`` before activation (None: no row yet)."""
    if inspect(state).transient:
        return None
    return {name: getattr(state, name) for name in STORED}


def _restore(slug: str, before: dict | None) -> None:
    """Put the plugin's row back as it was before a failed activation and commit: an
    ``activate()`` or ``upgrade()`` that committed (the flag included) and then raised must not
    leave the plugin on while the admin is told it stays off."""
    state = db.session.get(PluginState, slug)
    if state is None or _stored_fields(state) == before:
        return
    if before is None:
        db.session.delete(state)
    else:
        for name, value in before.items():
            setattr(state, name, value)
    db.session.commit()


def deactivate(slug: str) -> str | None:
    """Switch plugin ``slug`` off after running its ``deactivate(host)``; dependants go first.

    Commits. A ``deactivate()`` that raises does not keep the plugin on: the fault is recorded
    and the returned warning says so (None when all went well)."""
    host = plugin_host()
    info = plugin_info(slug)
    dependants = [p.name for p in host.plugins.values()
                  if slug in p.requires and host.is_active(p.slug)]
    if dependants:
        raise PluginError(f"{', '.join(dependants)} require {info.name}: deactivate them first.")
    state = db.session.get(PluginState, slug)
    if state is None or not state.active:
        return None
    warning = None
    if info.loaded:
        try:
            call(info, "deactivate")
        except PluginFault as fault:
            warning = (f"{info.name} is deactivated, but its deactivate() raised {fault.summary}; "
                       "the traceback is on the Plugins page.")
    do_action("plugin_deactivated", slug)
    record("plugin.deactivated", ("plugin", slug, info.name), "")
    state.active = False
    db.session.commit()
    host.faults.reset_count(slug)
    host.forget_cache()
    return warning


def call(info, name, *args):
    """Run the plugin's module-level ``name(host, *args)`` through the guard, if it has one;
    raises PluginFault when it raises."""
    callback = getattr(info.module, name, None)
    if callback is not None:
        host = plugin_host()
        host.guard.call(info.slug, name, callback, host.contexts[info.slug], *args)


def upgrade_pending(info, state) -> bool:
    """True when the plugin ran before with another version, so ``upgrade()`` is due."""
    return (state is not None and state.first_activated_at is not None and info.loaded
            and state.version != info.version)


def upgrade(info, state) -> bool:
    """Run ``upgrade(host, from_version)`` once for the new version; False when another process
    already did. The caller commits (or rolls back on PluginFault, so it runs again later)."""
    old = state.version
    same = PluginState.version == old if old is not None else PluginState.version.is_(None)
    claimed = db.session.execute(update(PluginState).where(PluginState.slug == info.slug, same)
                                 .values(version=info.version))
    if claimed.rowcount != 1:
        return False
    call(info, "upgrade", old)
    do_action("plugin_upgraded", info.slug, old, info.version)
    return True


def clear_faults(slug: str) -> int:
    """Forget plugin ``slug``'s recorded faults and lift a recovery-mode suspension once the
    caller commits (the audit entry ``plugin.faults_cleared`` is in that transaction); returns
    how many faults are forgotten. Raises UnknownPlugin."""
    info, host = plugin_info(slug), plugin_host()
    count = sum(fault.count for fault in host.faults.faults([slug]).get(slug, []))
    record("plugin.faults_cleared", ("plugin", slug, info.name), f"{count} fault(s) forgotten")
    after_commit(_forget_faults, host, slug)
    return count


def _forget_faults(host, slug):
    host.faults.clear(slug)
    host.forget_cache()
