"""Recording opens and clicks from the pixel and redirect routes.

A recipient's identity is stored only while the network tracks per recipient: a token made in
per-recipient mode and used after the admin switched to anonymous counting is counted anonymously.
"""
from ..core.extensions import db
from ..core.hooks import do_action
from ..core.utils import utcnow
from .links import per_recipient
from .models import TrackedClick, TrackedOpen


def _identity(delivery_id):
    return delivery_id if per_recipient(cached=False) else None


def record_open(run_id: int, delivery_id: int | None) -> None:
    """Count one load of the open pixel of ``run_id``; the caller commits."""
    db.session.add(TrackedOpen(run_id=run_id, delivery_id=_identity(delivery_id), created_at=utcnow()))


def record_click(run_id: int, delivery_id: int | None, url: str) -> None:
    """Count one click on ``url`` in ``run_id`` and fire ``link_clicked``; the caller commits."""
    delivery_id = _identity(delivery_id)
    db.session.add(TrackedClick(run_id=run_id, delivery_id=delivery_id, url=url[:2000],
                                created_at=utcnow()))
    do_action("link_clicked", run_id, delivery_id, url)
