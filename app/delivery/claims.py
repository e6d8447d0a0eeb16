"""Claiming a batch of a run's ledger rows for one sending job: one UPDATE ... RETURNING that marks
them ``sending`` under the job's claim and returns what each message needs."""
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, func, literal_column, null, select, update

from ..broadcasts.models import BroadcastRun
from ..core.extensions import db
from ..core.utils import utcnow
from ..mail.builder import Recipient
from ..mail.suppression import Suppression
from ..network.models import Customer, Site
from .models import Delivery


def _site_address(place: str, base_url: str) -> str:
    """The address of a site the claim returned as its domain, or "/" and its path ("" for "/")."""
    if not place.startswith("/"):
        return Site.address(place, None, base_url)
    return Site.address(None, place, base_url) if place.strip("/") else ""


@dataclass
class Claimed:
    """A row this job holds in ``sending``; ``previous`` is the status it was claimed from."""
    recipient: Recipient
    attempts: int
    previous: str
    next_attempt_at: object = None


@dataclass
class Claims:
    """Claims rows of run ``run_id`` matching ``where`` (conditions on Delivery) for the job holding
    lease ``token``, ``size`` at a time; ``needs_site``: the messages show the customer's site."""
    run_id: int
    token: str
    size: int
    needs_site: bool
    where: list
    statement: object = None

    def _statement(self):
        """The claiming UPDATE, built once (not per batch)."""
        ids = (select(Delivery.id).where(Delivery.run_id == self.run_id, *self.where)
               .order_by(Delivery.id).limit(self.size))
        if db.engine.dialect.name == "postgresql":
            ids = ids.with_for_update(skip_locked=True)
        # A CTE is evaluated once: PostgreSQL may re-run a LIMIT subquery inside IN (...) and so
        # claim more rows than the batch.
        claimable = ids.cte("claimable")
        sending = select(BroadcastRun.id).where(BroadcastRun.id == self.run_id,
                                                BroadcastRun.status == "sending").exists()
        return (update(Delivery).where(Delivery.id.in_(select(claimable.c.id)), sending, *self.where)
                .values(status="sending", claim=self.token, attempts=Delivery.attempts + 1,
                        last_attempt_at=bindparam("now"))
                .returning(Delivery.id, func.coalesce(Delivery.spelling, Delivery.email),  # sent to
                           Delivery.customer_id, Delivery.attempts, Delivery.next_attempt_at,
                           *self._personal_columns())
                .execution_options(synchronize_session=False))

    def next(self) -> list[Claimed]:
        """Claim the next batch in one round trip: the UPDATE returns each row with the customer's
        name, first site and any suppression added since planning (scalar subqueries)."""
        if self.statement is None:
            self.statement = self._statement()
        rows = db.session.execute(self.statement, {"now": utcnow()}).all()
        rows.sort(key=lambda row: row.id)
        rows = self._skip_suppressed(rows)
        base_url, claimed = current_app.config["BASE_URL"], []
        for row_id, email, customer_id, attempts, next_at, name, _, place in rows:  # unpacking
            site = _site_address(place, base_url) if place else ""
            claimed.append(Claimed(Recipient(row_id, email, customer_id, name or "", site), attempts,
                                   "deferred" if next_at else "queued", next_at))
        return claimed

    def _personal_columns(self) -> list:
        # Correlated to the row being updated; spelled out because SQLite's RETURNING drops the
        # table name from columns (``email = email`` would compare the subquery's own column).
        customer_id, email = literal_column("deliveries.customer_id"), literal_column("deliveries.email")

        # The first site's domain, or "/" and its path: one probe for both (see _site_address).
        place = func.coalesce(func.nullif(Site.domain, ""), "/" + func.coalesce(Site.path, ""))
        first_site = select(place).where(Site.customer_id == customer_id).order_by(Site.id).limit(1) \
            .scalar_subquery() if self.needs_site else null()
        return [select(Customer.name).where(Customer.id == customer_id).scalar_subquery().label("name"),
                select(Suppression.reason).where(Suppression.email == email).scalar_subquery().label("suppressed"),
                first_site.label("site")]

    def _skip_suppressed(self, rows):
        """Rows whose address was suppressed since planning are skipped, not sent."""
        suppressed = [row for row in rows if row.suppressed]
        if not suppressed:
            return rows
        db.session.execute(update(Delivery.__table__)
                           .where(Delivery.id == bindparam("row_id"))
                           .values(status="skipped", reason=bindparam("why"), claim=None,
                                   attempts=Delivery.attempts - 1),
                           [{"row_id": row.id, "why": row.suppressed} for row in suppressed])
        return [row for row in rows if not row.suppressed]
