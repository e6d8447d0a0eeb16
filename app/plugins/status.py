"""What the Plugins page, `flask plugins list` and `flask check` show: state, faults, problems."""
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..core.extensions import db
from .faults import FaultRecord
from .lifecycle import orphan_message
from .models import PluginState
from .schema import applied_revisions, orphan_revisions
from .services import activation_problem, plugin_host, upgrade_pending


@dataclass
class PluginRow:
    """One plugin as the admin sees it; building it runs no plugin code."""
    info: object
    switched_on: bool
    active: bool
    suspended: dict | None
    problem: str | None
    upgrade_from: str | None
    settings: list
    faults: list[FaultRecord] = field(default_factory=list)

    @property
    def state(self) -> str:
        """failed, conflict, suspended, active or inactive."""
        if self.info.conflict:
            return "conflict"
        if self.info.error:
            return "failed"
        if self.switched_on and self.suspended:
            return "suspended"
        return "active" if self.active else "inactive"


def plugin_rows() -> list[PluginRow]:
    """Every known plugin with its state, faults and what stands in its way."""
    host = plugin_host()
    switched_on, active = host.switched_on(), host.active_slugs()
    suspended = host.faults.suspended()
    faults = host.faults.faults(host.plugins)
    applied = applied_revisions()
    states = {s.slug: s for s in db.session.scalars(select(PluginState))}
    rows = []
    for slug, info in host.plugins.items():
        state = states.get(slug)
        rows.append(PluginRow(
            info, slug in switched_on, slug in active, suspended.get(slug),
            activation_problem(info, applied),
            state.version if upgrade_pending(info, state) else None,
            host.settings.owned_by(slug), faults.get(slug, [])))
    return rows


def recovery_notices() -> list[dict]:
    """The plugins recovery mode switched off while admins have them on: slug, name, reason."""
    host = plugin_host()
    suspended = host.faults.suspended()
    if not suspended:
        return []
    switched_on = host.switched_on()
    return [{"slug": slug, "name": host.plugins[slug].name, **entry}
            for slug, entry in sorted(suspended.items())
            if slug in switched_on and slug in host.plugins]


def problem_lines() -> list[str]:
    """One line per plugin problem, for `flask check` (empty when all is well)."""
    try:
        lines = [f"plugins: {orphan_message(revision)}" for revision in orphan_revisions()]
        rows = plugin_rows()
    except SQLAlchemyError:
        db.session.rollback()
        return ["plugins: not checked, the database is not migrated: run `flask db upgrade`."]
    for row in rows:
        slug = row.info.slug
        if row.state == "suspended" and row.suspended["kind"] == "faults":
            lines.append(f"plugin {slug}: switched off by recovery mode ({row.suspended['reason']}); "
                         f"fix it, then activate it again (`flask plugins activate {slug}`).")
        elif row.state == "failed":
            last = row.info.error.strip().splitlines()[-1]
            lines.append(f"plugin {slug}: failed to load ({last}); the traceback is on the Plugins page.")
        elif row.problem:
            lines.append(f"plugin {slug}: {row.problem}")
        if row.upgrade_from is not None:
            lines.append(f"plugin {slug}: {upgrade_advice(row)}")
    return lines


def upgrade_advice(row: PluginRow) -> str:
    """When a pending ``upgrade()`` runs: at the next `flask db upgrade` for an active plugin,
    at activation for an inactive one (the network upgrade runs only active plugins' code)."""
    pending = f"its upgrade from {row.upgrade_from} to {row.info.version} is pending"
    if row.active:
        return f"{pending}: run `flask db upgrade`."
    return f"{pending}: it runs when the plugin is activated."
