"""Hooks of the tracking domain: unsubscribes, bounces, complaints, clicks and the bounce webhook."""
from ..registry import HookSpec
from ..shapes import BOOL, JSON

email_unsubscribed = HookSpec("email_unsubscribed", "action", """An address unsubscribed from
broadcasts (link, one-click POST, mailto request, dashboard or admin import).

Arguments: ``email`` (str, normalised), ``run_id`` (int or None: the run whose link was used),
``source`` (str: "link", "one-click", "mailto", "dashboard", ...). Returns nothing.
Fired only when the address was not already suppressed.""")

email_resubscribed = HookSpec("email_resubscribed", "action", """An address was taken off the
suppression list (the customer resubscribed, or an admin removed it).

Arguments: ``email`` (str), ``previous_reason`` (str: unsubscribed, bounced or complained),
``source`` (str: "dashboard", "link", "admin"). Returns nothing.""")

bounce_recorded = HookSpec("bounce_recorded", "action", """A bounce was recorded (SMTP reply,
DSN from the bounce mailbox, or webhook).

Arguments: ``email`` (str), ``bounce_type`` ("hard" or "soft"), ``source`` (str),
``detail`` (str or None), ``suppressed`` (bool: the address is now on the suppression list),
``delivery`` (``DeliveryRef`` of app.tracking.ledger, or None when no delivery matched).
Returns nothing. Not fired for a duplicate (same DSN or webhook event id seen before).""")

complaint_recorded = HookSpec("complaint_recorded", "action", """A spam complaint was recorded
(feedback-loop report or webhook); the address is suppressed.

Arguments: ``email`` (str), ``source`` (str), ``detail`` (str or None), ``delivery``
(``DeliveryRef`` or None). Returns nothing.""")

link_clicked = HookSpec("link_clicked", "action", """A tracked link was followed.

Arguments: ``run_id`` (int), ``delivery_id`` (int or None: None with anonymous tracking),
``url`` (str: the destination). Returns nothing. Runs before the redirect; keep it fast.""")

track_link = HookSpec("track_link", "filter", """Decides whether one link of a broadcast e-mail is
rewritten through the click redirect.

Value: bool (True when Herald would track it). Arguments: ``url`` (str), ``run_id`` (int).
Returns the bool. Unsubscribe links, mailto:, tel: and anchors are never tracked.""", shape=BOOL)

bounce_webhook_verify = HookSpec("bounce_webhook_verify", "filter", """Authenticates a POST to
/hooks/bounces, so a provider that signs its own way can be accepted by a plugin.

Value: bool, the result of Herald's own check (HMAC-SHA256 of the raw body with the shared
secret, header ``X-Herald-Signature: sha256=<hex>``). Arguments: ``headers`` (the request's
headers), ``body`` (bytes, the raw body). Returns the bool; return True only after verifying the
provider's signature.""", shape=BOOL)

bounce_webhook_payload = HookSpec("bounce_webhook_payload", "filter", """Turns a provider's
webhook JSON into Herald's bounce format (see docs/bounces.md) before validation.

Value: the decoded JSON (any JSON type). Arguments: ``headers`` (the request's headers).
Returns a dict ``{"events": [...]}`` or one event dict in Herald's format: only its fields, each of its
JSON type (``webhook.EVENT_FIELDS``); anything else is a 422.""", shape=JSON)
