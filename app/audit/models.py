"""The audit log's one table: who did what to which object, when; rows are only ever inserted."""
from sqlalchemy import Index, event

from ..core.extensions import db
from ..core.utils import utcnow

ACTOR_KINDS = ("web", "api", "cli", "system")


class AppendOnlyError(RuntimeError):
    """Raised when code tries to change or delete an audit entry."""


class AuditEntry(db.Model):
    """One state-changing action: actor, time, object and a short summary of the change."""
    __tablename__ = "audit_entries"
    id = db.Column(db.Integer, primary_key=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    actor_kind = db.Column(db.String(10), nullable=False)  # one of ACTOR_KINDS
    actor_id = db.Column(db.Integer, nullable=True)  # no foreign key: history outlives the user
    actor = db.Column(db.String(254), nullable=False)  # the e-mail (or CLI user) at the time
    action = db.Column(db.String(80), nullable=False)  # "<domain>.<verb>", e.g. "api_key.revoked"
    object_type = db.Column(db.String(40), nullable=False)
    object_id = db.Column(db.String(64), nullable=True)
    object_label = db.Column(db.String(200), nullable=False, default="", server_default="")
    summary = db.Column(db.String(1000), nullable=False, default="", server_default="")
    ip = db.Column(db.String(64), nullable=True)

    def __repr__(self):
        return f"<AuditEntry {self.id} {self.action} {self.object_type}:{self.object_id}>"


Index("ix_audit_entries_created_at", AuditEntry.created_at)
Index("ix_audit_entries_object", AuditEntry.object_type, AuditEntry.object_id)
Index("ix_audit_entries_actor_id", AuditEntry.actor_id)
Index("ix_audit_entries_action", AuditEntry.action)


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _refuse_change(mapper, connection, target):
    raise AppendOnlyError("audit entries cannot be changed or deleted")
