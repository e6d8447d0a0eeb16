"""Installing and removing plugins: the network upgrade branch by branch, and Uninstall."""
from dataclasses import dataclass, field

from sqlalchemy import delete, select

from ..audit.services import record
from ..core.extensions import db
from ..core.hooks import do_action
from ..core.hooks.guard import PluginFault
from ..core.settings.models import Option
from ..system_emails.models import SystemEmail
from ..system_emails.services import delete_email
from .models import PluginState
from .schema import (
    applied_revisions,
    downgrade_branch,
    folder_revisions,
    orphan_revisions,
    upgrade_branch,
    upgrade_core,
)
from .services import PluginError, call, plugin_host, plugin_info, upgrade, upgrade_pending


@dataclass
class UpgradeReport:
    """What the network upgrade did: lines to print and {slug: error} of the plugins that failed."""
    lines: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)


def orphan_message(revision: str) -> str:
    """What an orphaned revision means and the commands that clean it up; while plugins are
    refused for sharing a slug, it is probably theirs, and forgetting it would be wrong."""
    refused = refused_slugs()
    if refused:
        return (f"The database holds migration {revision!r}, which no loaded plugin ships. The "
                f"plugin(s) {', '.join(refused)} are refused because two plugins share the slug, "
                "so their migrations are not read: it is probably theirs, and their tables are in "
                "use. Rename or remove one of the two, restart, and run `flask db upgrade` again; "
                "do not run `flask plugins forget-migration` for it.")
    return (f"The database holds migration {revision!r}, which no core or plugin folder ships: a "
            "plugin folder was probably deleted before the plugin was uninstalled. It is left "
            "alone and everything else migrates. Put the folder back and run `flask plugins "
            "uninstall SLUG` to drop its tables too, or run `flask plugins forget-migration "
            f"{revision}` to forget it (its tables stay).")


def refused_slugs() -> list[str]:
    """Slugs Herald refuses because two plugins share them (neither is loaded)."""
    return sorted(slug for slug, info in plugin_host().plugins.items() if info.conflict)


def upgrade_network() -> UpgradeReport:
    """``flask db upgrade``: the core, then each loaded plugin's branch in a transaction of its
    own, then ``upgrade()`` of each active plugin whose version changed. Commits, with a
    ``database.upgraded`` audit entry naming the revisions applied (if any).

    A plugin whose migration fails keeps none of it, is recorded as a fault, cannot be
    activated, and is switched off until a later upgrade succeeds; the others still migrate.
    A failure of the core's own migrations raises."""
    host, report = plugin_host(), UpgradeReport()
    report.lines += [orphan_message(revision) for revision in orphan_revisions()]
    before = applied_revisions()
    upgrade_core()
    for slug, info in sorted(host.plugins.items()):
        if info.migrations_dir is None:
            continue
        if not info.loaded:
            report.lines.append(f"plugin {slug}: not migrated, it does not load.")
            continue
        try:
            upgrade_branch(info)
        except Exception as error:
            fault = host.guard.fault(slug, "migration", error)
            report.failed[slug] = fault.summary
            report.lines.append(f"plugin {slug}: its migration failed ({fault.summary}); none of it "
                                "was applied and the plugin cannot be activated until `flask db "
                                "upgrade` succeeds. The traceback is on the Plugins page.")
            if slug in host.switched_on():
                host.faults.suspend(slug, "migration", f"its migration failed: {fault.summary}")
        else:
            host.faults.forget(slug, "migration")
            host.faults.resume(slug, kind="migration")
    host.forget_cache()
    for slug in sorted(host.active_slugs()):
        _upgrade_one(host.plugins[slug], report)
    applied = sorted(applied_revisions() - before)
    if applied:
        record("database.upgraded", ("database", None, "schema"), f"applied {', '.join(applied)}")
        db.session.commit()
    return report


def _upgrade_one(info, report) -> None:
    state = db.session.get(PluginState, info.slug)
    if not upgrade_pending(info, state):
        return
    old = state.version
    try:
        if upgrade(info, state):
            report.lines.append(f"plugin {info.slug}: upgraded from {old} to {info.version}.")
        db.session.commit()
    except PluginFault as fault:
        db.session.rollback()
        report.failed[info.slug] = fault.summary
        report.lines.append(f"plugin {info.slug}: its upgrade() from {old} raised {fault.summary}; "
                            "it runs again at the next `flask db upgrade`.")


@dataclass
class UninstallPlan:
    """What uninstalling a plugin removes, shown before the admin confirms."""
    info: object
    emails: list
    settings: list
    revisions: list

    @property
    def empty(self) -> bool:
        """True when the plugin left nothing behind to remove."""
        return not (self.emails or self.settings or self.revisions)


def _settings_of(slug):
    return Option.key.startswith(f"plugin.{slug}.", autoescape=True)


def uninstall_plan(slug: str) -> UninstallPlan:
    """What ``uninstall(slug)`` would remove; raises PluginError while the plugin is switched on."""
    info = plugin_info(slug)
    if slug in plugin_host().switched_on():
        raise PluginError(f"{info.name} is active: deactivate it before uninstalling it.")
    emails = db.session.scalars(select(SystemEmail).where(SystemEmail.plugin == slug)
                                .order_by(SystemEmail.name)).all()
    settings = db.session.scalars(select(Option.key).where(_settings_of(slug))
                                  .order_by(Option.key)).all()
    revisions = []
    if info.migrations_dir is not None:
        applied = applied_revisions()
        revisions = [s.revision for s in folder_revisions(info.migrations_dir) if s.revision in applied]
    return UninstallPlan(info, emails, settings, revisions)


def _removed(plan: UninstallPlan) -> str:
    return (f"removed {len(plan.emails)} system e-mail(s), {len(plan.settings)} setting(s); "
            f"migrations to downgrade: {', '.join(plan.revisions) or 'none'}")


def uninstall(slug: str) -> UninstallPlan:
    """Uninstall plugin ``slug``: run its ``uninstall(host)``, delete its system e-mails (with their
    logs), its settings and its stored state, commit, then downgrade its migration branch to base.

    Raises PluginError: nothing is removed when ``uninstall()`` raises; when the downgrade
    fails, the rest is gone and running the uninstall again finishes it."""
    host = plugin_host()
    plan = uninstall_plan(slug)
    info = plan.info
    try:
        if info.loaded:
            call(info, "uninstall")
        for email in plan.emails:
            delete_email(email)
        db.session.execute(delete(Option).where(_settings_of(slug)))
        db.session.execute(delete(PluginState).where(PluginState.slug == slug))
        do_action("plugin_uninstalled", slug)
        record("plugin.uninstalled", ("plugin", slug, info.name), _removed(plan))
    except PluginFault as fault:
        db.session.rollback()
        raise PluginError(f"{info.name} was not uninstalled: its uninstall() raised {fault.summary}. "
                          "Nothing was removed; the traceback is on the Plugins page.")
    db.session.commit()
    try:
        downgrade_branch(info)
    except Exception as error:
        fault = host.guard.fault(slug, "uninstall", error)
        raise PluginError(f"{info.name}'s settings and e-mails are removed, but downgrading its "
                          f"migrations failed ({fault.summary}), so its tables remain. Fix it and "
                          f"run `flask plugins uninstall {slug}` again.")
    host.faults.clear(slug)
    host.forget_cache()
    return plan
