"""Who a broadcast reaches: targeted customers, unique addresses and exclusions, all in SQL.

Counts read the membership combinations (migration 0020), never the memberships themselves.

Addresses are de-duplicated with ``shared_addresses`` (the customers of addresses used more than
once, kept by database triggers): an address used by one customer needs no de-duplication, so
only those few customers are grouped, and counting or planning never sorts every targeted address.
"""
from dataclasses import dataclass, field

from sqlalchemy import (
    distinct,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    union,
    union_all,
)

from ..core.extensions import db
from ..mail.suppression import REASONS
from ..network.models import (
    AddressComboCount,
    AddressReach,
    Customer,
    CustomerCombo,
    Membership,
    MembershipComboCount,
    MembershipComboItem,
    SharedAddress,
    SuppressedCustomer,
)
from .models import BroadcastTarget


def targeted_customer_ids(broadcast, distinct: bool = False):
    """A selectable of ``customer_id``: customers targeted directly or by a membership of a
    targeted product in one of the broadcast's statuses. A customer reached twice appears twice
    (UNION ALL) unless ``distinct``: counting uses ``count(DISTINCT ...)`` instead (a sort of
    nearly ordered ids, cheaper than hashing them).

    The product ids are bound as values, so the planner sees which products (and how many
    members) and reads the (product, status, customer) index alone.
    """
    direct = (select(BroadcastTarget.customer_id.label("customer_id"))
              .where(BroadcastTarget.broadcast_id == broadcast.id,
                     BroadcastTarget.customer_id.is_not(None)))
    by_product = (select(Membership.customer_id.label("customer_id"))
                  .where(Membership.product_id.in_(broadcast.product_ids),
                         Membership.status.in_(list(broadcast.product_statuses or []))))
    return (union if distinct else union_all)(direct, by_product).subquery("targeted")


def targets_customer(broadcast, customer_id):
    """An SQL condition: the broadcast targets ``customer_id`` (a column or a value).

    Index probes per customer (its memberships, the direct targets); used where few customers
    are checked (shared or suppressed addresses, a single customer), so the whole audience is
    never materialised for them.
    """
    direct = exists().where(BroadcastTarget.broadcast_id == broadcast.id,
                            BroadcastTarget.customer_id == customer_id)
    # OFFSET 0 keeps PostgreSQL from turning the EXISTS into a hash of every targeted member
    # (a million rows read to check a few thousand customers): it probes the index per customer.
    by_product = (select(literal(1)).where(Membership.customer_id == customer_id,
                                           Membership.product_id.in_(broadcast.product_ids),
                                           Membership.status.in_(list(broadcast.product_statuses or [])))
                  .offset(0).exists())
    return or_(direct, by_product)


def targeted_customers(broadcast):
    """A select of (Customer.id, Customer.email, Customer.name), once per targeted customer."""
    ids = targeted_customer_ids(broadcast, distinct=True)
    return (select(Customer.id, Customer.email, Customer.name)
            .join(ids, Customer.id == ids.c.customer_id))


def targeted_sharing_customers(broadcast):
    """A select of (id, email): the targeted customers whose address another customer shares,
    read from the few rows of ``shared_addresses`` and checked one by one against the broadcast."""
    return (select(SharedAddress.customer_id.label("id"), SharedAddress.email)
            .where(targets_customer(broadcast, SharedAddress.customer_id)))


def unique_recipients(broadcast):
    """A select of (customer_id, email, spelling): one row per address key (``email``, its ASCII
    letters in lower case), the customer with the lowest id, and that customer's own spelling of
    it when it differs (else NULL); customers whose address nobody shares pass through, only the
    sharers are grouped."""
    targeted = targeted_customers(broadcast).subquery("customers_targeted")
    key = func.lower(targeted.c.email)  # ASCII letters folded (core.utils.normalise_email)
    if db.engine.dialect.name == "postgresql":
        # lower() of the "C" column, its result in the database's collation as the ledger's index
        # is: planning inserts in that index's order (bench/README.md)
        key = key.collate("default")
    alone = (select(targeted.c.id.label("customer_id"), key.label("email"),
                    func.nullif(targeted.c.email, key).label("spelling"))
             .where(~exists().where(SharedAddress.customer_id == targeted.c.id)))
    sharing = targeted_sharing_customers(broadcast).subquery("sharing")
    winners = (select(func.min(sharing.c.id).label("id"), sharing.c.email)
               .group_by(sharing.c.email).subquery("winners"))
    grouped = (select(winners.c.id, winners.c.email, func.nullif(Customer.email, winners.c.email))
               .join(Customer, Customer.id == winners.c.id))
    return union_all(alone, grouped)


def sort_in_memory() -> None:
    """Let the current transaction sort and hash a million ids or addresses in memory (64 MB of
    PostgreSQL ``work_mem``, reset at its end) instead of spilling them to disk."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))


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


SHARED = "shared"  # the flagged kind of a customer whose address another customer uses


def flagged_customers():
    """A CTE of (customer_id, email, kind): the customers whose address is shared (kind
    ``shared``) or suppressed (kind = the reason), from the small tables the triggers keep; a
    customer can be both (two rows). Materialised on PostgreSQL: the planner knows nothing of a
    union's ids, and unmaterialised it may probe both tables' indexes once per targeted
    customer; a materialised CTE is hashed or merged once."""
    return union_all(
        select(SharedAddress.customer_id, SharedAddress.email, literal(SHARED).label("kind")),
        select(SuppressedCustomer.customer_id, SuppressedCustomer.email, SuppressedCustomer.reason),
    ).cte("flagged").prefix_with("MATERIALIZED", dialect="postgresql")


def _bytewise(column):
    """Compare ``column`` byte by byte when counting distinct values (the same equality as the
    default collation's, at a fraction of the cost of its locale-aware sort on PostgreSQL)."""
    return column.collate("C") if db.engine.dialect.name == "postgresql" else column


def targeted_combos(broadcast):
    """A select of the membership combinations (ids) the broadcast's products and statuses reach:
    those holding one of its (product, status) pairs (the combination items' primary key)."""
    return (select(MembershipComboItem.combo_id)
            .where(MembershipComboItem.product_id.in_(broadcast.product_ids),
                   MembershipComboItem.status.in_(list(broadcast.product_statuses or []))))


def count_audience(broadcast) -> AudienceCounts:
    """Count the audience from the combinations kept by migration 0020's triggers, equal to
    ``count_audience_directly`` without reading a membership.

    Reached by products: the customers and sharers of the combinations the targeting intersects
    (13,884 combinations at 1,000,000 customers in bench.scale) and the flagged addresses
    (shared, suppressed by reason) whose customers' combined pairs it intersects. Targeted
    directly: the customers no reached combination holds, with their rows in ``shared_addresses``
    and ``suppressed_customers`` read by primary key, each address counted unless its
    combination is reached. Every targeting
    (products with statuses, customers, both) is answered this way, none falls back to the
    memberships; the cost grows with the combinations and the directly targeted customers.
    """
    combos = targeted_combos(broadcast)
    customers, sharers = db.session.execute(
        select(func.coalesce(func.sum(MembershipComboCount.customers), 0),
               func.coalesce(func.sum(MembershipComboCount.sharers), 0))
        .where(MembershipComboCount.combo_id.in_(combos))).one()
    addresses = dict(db.session.execute(
        select(AddressComboCount.kind, func.sum(AddressComboCount.addresses))
        .where(AddressComboCount.combo_id.in_(combos)).group_by(AddressComboCount.kind)).all())
    direct = (select(BroadcastTarget.customer_id.label("customer_id"))
              .where(BroadcastTarget.broadcast_id == broadcast.id, BroadcastTarget.customer_id.is_not(None),
                     ~exists().where(CustomerCombo.customer_id == BroadcastTarget.customer_id,
                                     CustomerCombo.combo_id.in_(combos)))
              .distinct().cte("direct"))
    only_direct = db.session.scalar(select(func.count()).select_from(direct))
    if only_direct:
        ids = select(direct.c.customer_id)
        flagged = union_all(
            select(SharedAddress.customer_id, SharedAddress.email, literal(SHARED).label("kind"))
            .where(SharedAddress.customer_id.in_(ids)),
            select(SuppressedCustomer.customer_id, SuppressedCustomer.email, SuppressedCustomer.reason)
            .where(SuppressedCustomer.customer_id.in_(ids))).subquery("flagged")
        reached = exists().where(AddressReach.email == flagged.c.email, AddressReach.combo_id.in_(combos))
        kinds = (SHARED, *REASONS)
        row = db.session.execute(
            select(func.count(distinct(flagged.c.customer_id)).filter(flagged.c.kind == SHARED),
                   *(func.count(distinct(flagged.c.email)).filter(flagged.c.kind == kind, ~reached) for kind in kinds))
            .select_from(flagged)).one()
        sharers += row[0]
        for kind, count in zip(kinds, row[1:]):
            addresses[kind] = addresses.get(kind, 0) + count
    customers += only_direct
    excluded = {reason: int(addresses[reason]) for reason in REASONS if addresses.get(reason)}
    return AudienceCounts(int(customers), int(customers - sharers + addresses.get(SHARED, 0)), excluded)


def count_audience_directly(broadcast) -> AudienceCounts:
    """The same counts from the memberships (migration 0016's query, the reference the tests and
    bench/ compare ``count_audience`` with): the distinct targeted ids, then the targeted ids
    joined to the flagged customers; it reads every targeted membership twice."""
    sort_in_memory()
    ids = targeted_customer_ids(broadcast)
    customers = db.session.scalar(select(func.count(distinct(ids.c.customer_id))))
    flagged = flagged_customers()
    kinds = (SHARED, *REASONS)
    row = db.session.execute(
        select(func.count(distinct(flagged.c.customer_id)).filter(flagged.c.kind == SHARED),
               *(func.count(distinct(_bytewise(flagged.c.email))).filter(flagged.c.kind == kind) for kind in kinds))
        .select_from(ids.join(flagged, flagged.c.customer_id == ids.c.customer_id))).one()
    sharers, shared = row[0], row[1]
    excluded = {reason: count for reason, count in zip(REASONS, row[2:]) if count}
    return AudienceCounts(customers, customers - sharers + shared, excluded)
