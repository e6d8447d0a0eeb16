"""Audience planning time: freezing a run's audience into the per-recipient ledger (INSERT ... SELECT)."""
import time

from sqlalchemy import delete

from app.broadcasts.models import Broadcast, BroadcastRun, BroadcastTarget
from app.core.extensions import db
from app.core.utils import utcnow


def planning_time(product) -> dict:
    """Seconds to plan one run of an e-mail to every member of ``product`` (then cleaned up)."""
    from app.delivery.models import Delivery, DeliveryCount
    from app.delivery.planning import plan

    broadcast = Broadcast(kind="email", subject="plan", body_html="plan", status="sending")
    broadcast.targets.append(BroadcastTarget(product_id=product.id))
    db.session.add(broadcast)
    run = BroadcastRun(broadcast=broadcast, occurrence_at=utcnow(), status="planning")
    db.session.add(run)
    db.session.commit()
    started = time.perf_counter()
    result = plan(run)
    db.session.commit()
    seconds = time.perf_counter() - started
    db.session.execute(delete(Delivery).where(Delivery.run_id == run.id))
    db.session.execute(delete(DeliveryCount).where(DeliveryCount.run_id == run.id))
    db.session.execute(delete(Broadcast).where(Broadcast.id == broadcast.id))  # runs cascade
    db.session.commit()
    return {"planned": result.total, "excluded": result.excluded, "seconds": round(seconds, 2)}
