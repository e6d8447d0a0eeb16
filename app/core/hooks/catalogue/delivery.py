"""Hooks of the delivery domain: transports and outgoing messages."""
from ..registry import HookSpec
from ..shapes import FACTORIES, MARKUP_LIST, MESSAGE

mail_transports = HookSpec("mail_transports", "filter", """Filters the mail transports by URL scheme.

Value: a dict ``{scheme: factory}``, ``factory(url)`` returning a transport with
``submit(key, message_bytes, envelope_from, recipient) -> list[SendResult]`` (the outcomes known
so far, each with the ``key`` it was submitted with: status sent, temporary, permanent or
unknown), ``flush() -> list[SendResult]`` (the rest), ``idle`` (nothing in flight),
``send(message_bytes, envelope_from, recipient) -> SendResult`` (one message, raising
TemporaryFailure or PermanentFailure) and ``close()``; ``app.mail.smtp_session.SMTPSession`` is
the reference, ``app.mail.outcomes`` holds the types. Returns the dict.""", shape=FACTORIES)

delivery_message = HookSpec("delivery_message", "filter", """Filters each outgoing broadcast
message before it is turned into bytes (called only when a callback is registered).

Value: an ``OutgoingMessage`` (``app.mail.builder``) with ``recipient`` (delivery_id,
email, customer_id, name, site_url), ``run_id``, ``envelope_from`` (the delivery's VERP return
path when RETURN_PATH_DOMAIN is set, else MAIL_FROM's address; a callback may change it),
``headers`` (a list of ``(name, value)``; values must be ASCII or RFC 2047-encoded, one line or
folded with CRLF + space), ``text`` and ``html``. Returns the message (changed or not).""", shape=MESSAGE)

delivery_run_status_changed = HookSpec("delivery_run_status_changed", "action", """Fired when a
broadcast run changes status (sending, paused, sent, cancelled, failed), inside the transaction
that changes it.

Arguments: ``run`` (the BroadcastRun, new status set, ``status_reason`` explaining pauses) and
``previous`` (the old status). Returns nothing.""")

delivery_results_recorded = HookSpec("delivery_results_recorded", "action", """Fired when a
sending job writes a batch of outcomes, inside that transaction (called only when a callback is
registered; never commit here: the job commits the outcomes and your rows together).

Arguments: ``run_id`` and ``outcomes``, a list of objects with ``id`` (the delivery), ``email``,
``status`` (sent, deferred, failed, or unknown: the connection failed after the message was sent
and before its reply), ``code``, ``reply``, ``message_id``, ``rejected`` (True
for a mailbox rejection, a 5xx at RCPT or DATA that suppressed the address; RFC 5321 section
4.2.2). Returns nothing.""")

delivery_run_panels = HookSpec("delivery_run_panels", "filter", """Filters the panels at the foot
of a run's report page (the tracking domain adds the engagement report here).

Value: a list of Markup (each a whole ``<section class="card panel">``). Argument: ``run``
(BroadcastRun). Returns the list.""", shape=MARKUP_LIST)
