"""Writing the audit log in the caller's transaction (``record``), and reading it back filtered.

Any domain may call ``record``; it adds the entry to the current session and never commits, so
the entry is stored exactly when the change it describes is (same transaction). The actor comes
from the context: the API key's user under /api/, the logged-in user on other pages, the OS user
for ``flask`` commands, else "system" (workers, the scheduler).
"""
import getpass
from dataclasses import dataclass
from datetime import datetime

import click
from flask import g, has_request_context, request
from flask_login import current_user
from sqlalchemy import func, inspect, or_, select

from ..core.extensions import db
from ..core.hooks import do_action
from ..core.utils import day_after, utcnow
from .models import AuditEntry

LABEL_ATTRIBUTES = ("subject", "title", "name", "email", "slug", "prefix")


@dataclass(frozen=True)
class Actor:
    """Who acts: ``kind`` is web, api, cli or system; ``id`` the user's id when known."""
    kind: str
    name: str
    id: int | None = None
    ip: str | None = None


def _cli_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (e.g. a container without a passwd entry)
        return "unknown"


def current_actor() -> Actor:
    """The actor of the current request, command or job."""
    if has_request_context():
        ip = request.remote_addr
        api_user = getattr(g, "api_user", None) if request.path.startswith("/api/") else None
        if api_user is not None:
            key = getattr(g, "api_key", None)
            name = f"{api_user.email} (key {key.prefix}…)" if key is not None else api_user.email
            return Actor("api", name, api_user.id, ip)
        if current_user and current_user.is_authenticated:
            return Actor("web", current_user.email, current_user.id, ip)
        return Actor("web", "anonymous", None, ip)
    if click.get_current_context(silent=True) is not None:
        return Actor("cli", f"cli:{_cli_user()}")
    return Actor("system", "system")


def describe(target) -> tuple[str, str | None, str]:
    """``(object_type, object_id, label)`` of a model instance or of such a tuple."""
    if isinstance(target, tuple):
        kind, ident, *label = target
        return kind, None if ident is None else str(ident), (label[0] if label else "") or ""
    mapper = inspect(target).mapper
    table = mapper.local_table.name
    kind = table[:-1] if table.endswith("s") else table
    ident = inspect(target).identity
    ident = ",".join(map(str, ident)) if ident else getattr(target, "id", None)
    label = next((str(getattr(target, name)) for name in LABEL_ATTRIBUTES
                  if getattr(target, name, None)), "")
    return kind, None if ident is None else str(ident), label


def record(action: str, target, summary: str = "", actor: Actor | None = None) -> AuditEntry:
    """Add an audit entry for ``action`` (``"<object>.<verb>"``, e.g. ``"api_key.revoked"``) on
    ``target`` (a model instance, or ``(type, id[, label])``) to the current transaction; the
    caller commits. Fires ``audit_recorded``."""
    actor = actor or current_actor()
    kind, ident, label = describe(target)
    entry = AuditEntry(created_at=utcnow(), actor_kind=actor.kind, actor_id=actor.id,
                       actor=actor.name[:254], action=action[:80], object_type=kind[:40],
                       object_id=ident[:64] if ident else None, object_label=label[:200],
                       summary=(summary or "")[:1000], ip=(actor.ip or None) and actor.ip[:64])
    db.session.add(entry)
    do_action("audit_recorded", entry)
    return entry


def changes_summary(before: dict, after: dict) -> str:
    """A short "field: old → new" summary of the keys whose value changed."""
    def short(value):
        text = "—" if value in (None, "") else str(value)
        return text if len(text) <= 60 else text[:57] + "…"
    parts = [f"{key}: {short(before.get(key))} → {short(after.get(key))}"
             for key in after if before.get(key) != after.get(key)]
    return "; ".join(parts)


@dataclass(frozen=True)
class AuditFilters:
    """Filters of the audit page, the CSV export and ``flask audit list``."""
    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    q: str = ""
    since: datetime | None = None
    until: datetime | None = None  # the last day shown, inclusive (midnight of that day)

    @classmethod
    def from_args(cls, args) -> "AuditFilters":
        """Filters from query arguments; a bad date is ignored (the page says so)."""
        def day(name):
            try:
                return datetime.strptime(args.get(name, "").strip(), "%Y-%m-%d")
            except ValueError:
                return None
        return cls(*(args.get(name, "").strip()[:200] for name in ("actor", "action", "object_type",
                                                                  "object_id", "q")),
                   since=day("since"), until=day("until"))

    def as_args(self) -> dict:
        """The filters as query arguments (for links and the export)."""
        args = {k: v for k, v in vars(self).items() if v and isinstance(v, str)}
        if self.since:
            args["since"] = self.since.strftime("%Y-%m-%d")
        if self.until:
            args["until"] = self.until.strftime("%Y-%m-%d")
        return args


def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def entries_query(filters: AuditFilters):
    """A select of the entries matching ``filters`` (not ordered)."""
    query = select(AuditEntry)
    if filters.actor:
        query = query.where(func.lower(AuditEntry.actor).like(_like(filters.actor), escape="\\"))
    if filters.action:
        query = query.where(or_(AuditEntry.action == filters.action,
                                AuditEntry.action.like(filters.action.rstrip(".") + ".%")))
    if filters.object_type:
        query = query.where(AuditEntry.object_type == filters.object_type)
    if filters.object_id:
        query = query.where(AuditEntry.object_id == filters.object_id)
    if filters.q:
        pattern = _like(filters.q)
        query = query.where(or_(func.lower(AuditEntry.summary).like(pattern, escape="\\"),
                                func.lower(AuditEntry.object_label).like(pattern, escape="\\")))
    if filters.since:
        query = query.where(AuditEntry.created_at >= filters.since)
    end = day_after(filters.until) if filters.until else None
    if end is not None:  # none after 9999-12-31: every entry is before its end
        query = query.where(AuditEntry.created_at < end)
    return query


def known_values(column) -> list[str]:
    """The distinct values of an AuditEntry column (for the filter menus)."""
    return db.session.scalars(select(column).distinct().order_by(column)).all()
