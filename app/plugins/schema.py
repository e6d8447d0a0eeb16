"""Plugin migration branches: which are applied, the network upgrade branch by branch, orphans."""
import logging
from pathlib import Path

from alembic import command
from alembic.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from flask import current_app

from ..audit.services import record
from ..core.extensions import db

log = logging.getLogger(__name__)


def alembic_config():
    """The Alembic config of the app: core versions plus every plugin's branch folder."""
    return current_app.extensions["migrate"].migrate.get_config()


def scripts() -> ScriptDirectory:
    """Every revision the core and the plugins ship (read once per app: code needs a restart)."""
    host = current_app.extensions["herald_plugins"]
    if "scripts" not in host.schema_cache:
        host.schema_cache["scripts"] = ScriptDirectory.from_config(alembic_config())
    return host.schema_cache["scripts"]


def _downs(value) -> tuple:
    return () if value is None else (value,) if isinstance(value, str) else tuple(value)


def folder_revisions(folder) -> list[Script]:
    """The revisions whose files are in ``folder`` (a plugin's migrations/versions)."""
    folder = Path(folder).resolve()
    return [s for s in scripts().walk_revisions() if Path(s.path).resolve().parent == folder]


def folder_heads(folder) -> list[str]:
    """The newest revisions of the branch in ``folder`` (usually one)."""
    revisions = folder_revisions(folder)
    below = {down for s in revisions for down in _downs(s.down_revision)}
    return sorted(s.revision for s in revisions if s.revision not in below)


def core_folder() -> Path:
    """The core's migrations/versions folder."""
    return Path(alembic_config().get_main_option("script_location")) / "versions"


def stored_revisions() -> tuple:
    """The rows of alembic_version (empty before the first upgrade)."""
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_heads()


def orphan_revisions() -> list[str]:
    """Revisions in alembic_version that no migration folder ships (a deleted plugin folder)."""
    found = []
    for revision in stored_revisions():
        try:
            scripts().get_revision(revision)
        except Exception:
            found.append(revision)
    return found


def head_downgrades() -> list[tuple[str, str, str]]:
    """For each stored head: (revision, whose it is, the REVISION of ``flask db downgrade
    REVISION`` that reverts that head alone), e.g. ("0024_x", "the core", "0023_y") or
    ("notes_0001", "plugin notes", "notes@-1")."""
    found = []
    for revision in sorted(stored_revisions()):
        try:
            script = scripts().get_revision(revision)
        except Exception:
            found.append((revision, "no migration folder ships it", revision))
            continue
        label = next(iter(sorted(script.branch_labels)), None)
        downs = _downs(script.down_revision)
        if label is not None:
            found.append((revision, f"plugin {label}", f"{label}@-1"))
        else:
            found.append((revision, "the core", downs[0] if len(downs) == 1 else f"{revision}@-1"))
    return found


def applied_revisions() -> set[str]:
    """Every revision applied to the database: the stored heads and all they stand on."""
    orphans = orphan_revisions()
    applied, todo = set(), [r for r in stored_revisions() if r not in orphans]
    while todo:
        revision = todo.pop()
        if revision in applied:
            continue
        applied.add(revision)
        script = scripts().get_revision(revision)
        todo.extend(_downs(script.down_revision))
        for dependency in _downs(script.dependencies):
            try:
                todo.append(scripts().get_revision(dependency).revision)
            except Exception:
                continue
    return applied


def revisions_to_revert(target: str) -> list[str]:
    """The revisions ``flask db downgrade TARGET`` would revert (newest first), TARGET as Alembic
    takes it (a revision, ``-1``, ``base``, ``branch@base``). Raises Alembic's CommandError or
    RevisionError for a target it does not know."""
    return [script.revision for script in scripts().iterate_revisions(
        stored_revisions(), target, select_for_downgrade=True)]


def pending_migrations(info, applied=None) -> list[str]:
    """The heads of plugin ``info``'s branch that are not applied (empty: nothing to run);
    ``applied`` saves reading ``applied_revisions()`` again when checking several plugins."""
    if info.migrations_dir is None:
        return []
    applied = applied_revisions() if applied is None else applied
    return [head for head in folder_heads(info.migrations_dir) if head not in applied]


def upgrade_core() -> None:
    """Upgrade the core's own branch to its head (a failure here stops the whole upgrade)."""
    for head in folder_heads(core_folder()):
        command.upgrade(alembic_config(), head)


def upgrade_branch(info) -> None:
    """Upgrade plugin ``info``'s branch to its head, in one transaction of its own."""
    for head in folder_heads(info.migrations_dir):
        command.upgrade(alembic_config(), head)


def downgrade_branch(info) -> bool:
    """Downgrade plugin ``info``'s branch to base (dropping its tables); False if none applied."""
    if info.migrations_dir is None:
        return False
    applied = applied_revisions()
    if not any(s.revision in applied for s in folder_revisions(info.migrations_dir)):
        return False
    for head in folder_heads(info.migrations_dir):
        command.downgrade(alembic_config(), f"{head}@base")
    return True


def forget_revision(revision: str) -> bool:
    """Delete an orphaned ``revision`` from alembic_version (its tables stay) and record
    ``plugin.migration_forgotten``; the caller commits. False (nothing done) if it is not an
    orphan."""
    if revision not in orphan_revisions():
        return False
    db.session.execute(db.text("DELETE FROM alembic_version WHERE version_num = :r"), {"r": revision})
    record("plugin.migration_forgotten", ("migration", revision), "forgotten from alembic_version; "
           "its tables stay")
    return True
