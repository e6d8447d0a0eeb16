"""Delivery domain: planning runs into a per-recipient ledger, sending by RQ workers, reporting."""


def init_app(app):
    """Nothing to register yet beyond the transport hooks declared in the catalogue."""
