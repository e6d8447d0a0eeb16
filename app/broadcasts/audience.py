"""Who a broadcast reaches: targeted customers, unique addresses and exclusions, all in SQL."""
from dataclasses import dataclass, field

from sqlalchemy import distinct, func, select, union

from ..extensions import db
from ..network.models import Customer, Membership
from ..tracking.models import Suppression
from .models import BroadcastTarget


def targeted_customer_ids(broadcast_id: int, product_statuses):
    """A selectable of ``customer_id``: customers targeted directly or by a product membership
    in one of ``product_statuses``. UNION removes customers reached twice."""
    direct = (select(BroadcastTarget.customer_id.label("customer_id"))
              .where(BroadcastTarget.broadcast_id == broadcast_id,
                     BroadcastTarget.customer_id.is_not(None)))
    by_product = (select(Membership.customer_id.label("customer_id"))
                  .join(BroadcastTarget, BroadcastTarget.product_id == Membership.product_id)
                  .where(BroadcastTarget.broadcast_id == broadcast_id,
                         Membership.status.in_(list(product_statuses))))
    return union(direct, by_product).subquery("targeted")


def targeted_customers(broadcast):
    """A select of (Customer.id, Customer.email, Customer.name) for every targeted customer."""
    ids = targeted_customer_ids(broadcast.id, broadcast.product_statuses or [])
    return (select(Customer.id, Customer.email, Customer.name)
            .join(ids, Customer.id == ids.c.customer_id))


def unique_recipients(broadcast):
    """A select of (customer_id, email): one row per address, the customer with the lowest id."""
    targeted = targeted_customers(broadcast).subquery("customers_targeted")
    return (select(func.min(targeted.c.id).label("customer_id"), targeted.c.email)
            .group_by(targeted.c.email))


@dataclass
class AudienceCounts:
    """Live counts for the wizard: matched customers, unique addresses and exclusions by reason."""
    customers: int = 0
    addresses: int = 0
    excluded: dict = field(default_factory=dict)

    @property
    def deliverable(self) -> int:
        """Addresses that will get the e-mail."""
        return self.addresses - sum(self.excluded.values())


def count_audience(broadcast) -> AudienceCounts:
    """Count the audience in two aggregate queries (no rows reach Python)."""
    targeted = targeted_customers(broadcast).subquery("customers_targeted")
    customers, addresses = db.session.execute(
        select(func.count(), func.count(distinct(targeted.c.email)))).one()
    excluded = dict(db.session.execute(
        select(Suppression.reason, func.count(distinct(targeted.c.email)))
        .join(Suppression, Suppression.email == targeted.c.email)
        .group_by(Suppression.reason)).all())
    return AudienceCounts(customers, addresses, excluded)
