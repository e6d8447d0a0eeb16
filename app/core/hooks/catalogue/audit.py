"""Hooks of the audit domain: plugins add their own entries and see every entry written."""
from ..registry import HookSpec

audit_log = HookSpec("audit_log", "action", """Add an entry to the audit log (Network → Audit
log) in the current transaction, e.g. ``host.do_action("audit_log", "mapping.deleted",
("domain_mapping", 7, "shop.example"), "removed by request")``. The actor (admin, API key, CLI
user) is filled in from the request or command; the caller commits as usual.

Arguments: ``action`` (str, ``"<object>.<verb>"``; prefix it with your plugin's slug),
``target`` (a model instance, or ``(type, id[, label])``), ``summary`` (str, optional).
Returns nothing.""")

audit_recorded = HookSpec("audit_recorded", "action", """An audit entry was added to the session
(it is stored when the change it records is committed), e.g. to forward it to a SIEM.

Arguments: ``entry`` (AuditEntry: actor_kind, actor, action, object_type, object_id,
object_label, summary, ip). Returns nothing. Entries can never be changed or deleted.""")

settings_saved = HookSpec("settings_saved", "action", """An admin saved the Settings page.

Arguments: ``changes`` (dict ``{key: (old value, new value)}`` of the settings whose value
changed; a setting of type "secret" is given as ``("(secret)", "(new secret)")``, never its value,
since the audit log keeps what it is given for ever). Returns nothing.""")
