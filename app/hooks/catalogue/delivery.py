"""Hooks of the delivery domain: transports and outgoing messages."""
from ..registry import HookSpec

mail_transports = HookSpec("mail_transports", "filter", """Filters the mail transports by URL scheme.

Value: a dict ``{scheme: factory}``, ``factory(url)`` returning an object with
``send(message_bytes, envelope_from, recipient) -> SendResult`` (raising TemporaryFailure or
PermanentFailure from ``app.delivery.transport``) and ``close()``. Returns the dict.""")
