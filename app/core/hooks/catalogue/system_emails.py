"""Hooks of the system-emails domain: events fired, payloads, outgoing messages and results."""
from ..registry import HookSpec
from ..shapes import MESSAGE, VALUES

system_event_fired = HookSpec("system_event_fired", "action", """A system-email event was fired
with ``fire_event(slug, **payload)``; its active e-mails are already logged and queued (they go out
after the commit). Listen here to react to any event, e.g. ``if slug == "payment_received"``.

Arguments: ``slug`` (str, the event), ``payload`` (dict: the event's values, customer and network
placeholders included). Returns nothing.""")

system_email_payload = HookSpec("system_email_payload", "filter", """Filters the values an event's
e-mails are rendered with, before rendering.

Value: the payload dict (every declared key present). Arguments: ``slug`` (str, the event).
Returns the dict. Only keys the event declared can be used by templates (others are refused on
save), so add values for keys your plugin's event declared.""", shape=VALUES)

system_email_message = HookSpec("system_email_message", "filter", """Filters the message of
one system-email send just before it becomes bytes (add headers, change the text).

Value: ``app.mail.builder.OutgoingMessage`` (``headers``: a list of (name, value) pairs, values
already RFC 2047-encoded; ``text``; ``html``, "" for a plain-text e-mail; ``envelope_from``).
Arguments: ``send`` (SystemEmailSend: recipient, role, event, email). Returns the message to
send. The same shape as ``delivery_message``: every e-mail is made by one builder.""", shape=MESSAGE)

system_email_sent = HookSpec("system_email_sent", "action", """A system-email send was accepted by
the mail server.

Arguments: ``send`` (SystemEmailSend, status ``sent``, with ``reply`` and ``message_id``).
Returns nothing.""")

system_email_failed = HookSpec("system_email_failed", "action", """A system-email send failed for
good (a permanent 5xx reply, or temporary failures past the retry limit).

Arguments: ``send`` (SystemEmailSend, status ``failed``, ``reply`` holds the server's answer).
Returns nothing.""")
