"""Network events (a registration, a payment, a published site …) announced to whoever listens.

The domain where something happens calls ``announce``; the system e-mails domain, higher up,
subscribes to ``event_occurred`` and sends the event's e-mails; plugins may listen too. So the
network and billing domains never import the domain that mails about them.
"""
from .hooks import do_action


def announce(slug: str, customer=None, **payload) -> None:
    """Fire ``event_occurred`` for event ``slug`` (e.g. "customer_registered"); ``customer`` is
    a Customer or None, ``payload`` the event's other values (str, int or date). Runs inside the
    caller's transaction: listeners queue their work for after the commit."""
    do_action("event_occurred", slug, customer, payload)
