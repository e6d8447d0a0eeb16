"""``flask audit list``: the audit log in a terminal (read only: nothing here changes an entry)."""
import click
from flask.cli import AppGroup

from ..core.cli import echo_safe
from ..core.extensions import db
from .models import AuditEntry
from .services import AuditFilters, entries_query, known_values

audit_cli = AppGroup("audit", help="Read the audit log (who changed what, when).")


@audit_cli.command("list")
@click.option("--actor", default="", help="Part of the actor's e-mail or name.")
@click.option("--action", default="", help="An action (api_key.revoked) or its object (api_key).")
@click.option("--object", "target", default="", help="TYPE or TYPE:ID, e.g. product:7.")
@click.option("--since", default="", help="YYYY-MM-DD")
@click.option("--until", default="", help="YYYY-MM-DD (inclusive)")
@click.option("--search", default="", help="Text in the summary or the object's name.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100000))
def list_command(actor, action, target, since, until, search, limit):
    """The newest entries first, one a line: time, actor, action, object and summary. An object
    type or an action no entry has is a usage error that lists the ones the log holds."""
    object_type, _, object_id = target.partition(":")
    if target and not object_type.strip():
        raise click.BadParameter("use TYPE or TYPE:ID, e.g. product:7.", param_hint="--object")
    _check_known(object_type.strip(), known_values(AuditEntry.object_type), "--object", "object type")
    actions = known_values(AuditEntry.action)
    _check_known(action.strip().rstrip("."), actions + sorted({a.split(".")[0] for a in actions}),
                 "--action", "action or object")
    args = {"actor": actor, "action": action, "object_type": object_type, "object_id": object_id,
            "q": search, "since": since, "until": until}
    filters = AuditFilters.from_args(args)
    for name in ("since", "until"):
        if args[name] and getattr(filters, name) is None:
            raise click.BadParameter("use YYYY-MM-DD", param_hint=f"--{name}")
    entries = db.session.scalars(entries_query(filters).order_by(AuditEntry.id.desc()).limit(limit)).all()
    if not entries:
        click.echo("No audit entries match.")
    for entry in entries:
        target_text = f"{entry.object_type}:{entry.object_id or '-'}"
        if entry.object_label:
            target_text += f" ({entry.object_label})"
        echo_safe(f"{entry.created_at:%Y-%m-%d %H:%M:%S}  {entry.actor_kind:<6} {entry.actor}  "
                   f"{entry.action}  {target_text}" + (f"  {entry.summary}" if entry.summary else ""))


def _check_known(value: str, known: list, hint: str, what: str) -> None:
    """A usage error (exit 2) when ``value`` is given and is none of ``known``, naming them."""
    if value and value not in known:
        listed = ", ".join(known[:30]) + (" …" if len(known) > 30 else "") if known else "none yet"
        raise click.BadParameter(f"no entry has the {what} {value[:60]!r}; the log holds: {listed}.",
                                 param_hint=hint)
