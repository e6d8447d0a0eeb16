"""The network's data: customers, sites, products, memberships and network-wide options."""
from sqlalchemy import Index, func

from ..core.extensions import db
from ..core.utils import ADDRESS_TYPE, utcnow

PRODUCT_KINDS = ("plan", "package", "service")
MEMBERSHIP_STATUSES = ("active", "trialing", "pending", "on-hold", "expired", "cancelled")
SITE_STATUSES = ("draft", "published", "archived")


class Customer(db.Model):
    """A customer of the network; several customers may share one e-mail address."""
    __tablename__ = "customers"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"), unique=True)
    email = db.Column(ADDRESS_TYPE, nullable=False)  # mail.addresses.normalise_address's form
    name = db.Column(db.String(200), nullable=False, default="")
    locale = db.Column(db.String(16), nullable=False, default="en")
    timezone = db.Column(db.String(64), nullable=False, default="UTC")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    email_confirmed_at = db.Column(db.DateTime, nullable=True)

    user = db.relationship("User", back_populates="customer")
    sites = db.relationship("Site", back_populates="customer", lazy="dynamic")
    memberships = db.relationship("Membership", back_populates="customer", lazy="dynamic")

    def __repr__(self):
        return f"<Customer {self.id} {self.email}>"


Index("ix_customers_email_lower", func.lower(Customer.email).label("email_lower"), Customer.id,
      postgresql_ops={"email_lower": "text_pattern_ops"})
Index("ix_customers_name_lower", func.lower(Customer.name).label("name_lower"),
      postgresql_ops={"name_lower": "text_pattern_ops"})


class Address(db.Model):
    """An address key (``core.utils.normalise_email``) and how many customers use it.

    Kept by database triggers on ``customers`` (migrations 0009, 0016) with an atomic upsert, so it is
    exact under concurrent writes, bulk inserts and raw SQL alike; the triggers list the
    customers of its shared addresses (``customers > 1``) in ``shared_addresses``.
    """
    __tablename__ = "addresses"

    email = db.Column(db.String(254), primary_key=True)
    customers = db.Column(db.Integer, nullable=False, default=0)


class SharedAddress(db.Model):
    """A customer whose address another customer uses too (kept by the same triggers).

    Few rows (the shared addresses' customers): de-duplicating an audience reads this table
    instead of grouping every targeted address.
    """
    __tablename__ = "shared_addresses"

    customer_id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(254), nullable=False, index=True)


class SuppressedCustomer(db.Model):
    """A customer whose address is on the suppression list, with its reason (kept by triggers on
    ``customers`` and ``suppressions``, migration 0016): audience counts find their exclusions
    with the same pass that counts the customers."""
    __tablename__ = "suppressed_customers"

    customer_id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(254), nullable=False, index=True)
    reason = db.Column(db.String(16), nullable=False)


class Site(db.Model):
    """A site of a customer, reached by its own domain or a path on the network."""
    __tablename__ = "sites"

    id = db.Column(db.Integer, primary_key=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id", ondelete="CASCADE"),
                            nullable=False)
    title = db.Column(db.String(200), nullable=False)
    domain = db.Column(db.String(253), nullable=True, unique=True)
    path = db.Column(db.String(200), nullable=True)
    status = db.Column(db.String(16), nullable=False, default="draft")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    published_at = db.Column(db.DateTime, nullable=True)

    customer = db.relationship("Customer", back_populates="sites")

    @property
    def url(self) -> str:
        """The site's address: its domain, or its path on the network."""
        if self.domain:
            return f"https://{self.domain}"
        from flask import current_app
        return Site.address(self.domain, self.path, current_app.config["BASE_URL"])

    @staticmethod
    def address(domain, path, base_url: str) -> str:
        """The address of a site with ``domain`` and ``path`` on the network at ``base_url``
        (for loops over many rows, without an object per site)."""
        return f"https://{domain}" if domain else f"{base_url}/{(path or '').strip('/')}"


Index("ix_sites_title_lower", func.lower(Site.title).label("title_lower"),
      postgresql_ops={"title_lower": "text_pattern_ops"})
Index("ix_sites_domain_pattern", Site.domain, postgresql_ops={"domain": "text_pattern_ops"})
# A customer's sites in id order: the first one is one probe (the send loop's claim, migration 0024).
Index("ix_sites_customer_id_id", Site.customer_id, Site.id)


class Product(db.Model):
    """Something customers hold a membership of: a plan, a package or a service."""
    __tablename__ = "products"

    id = db.Column(db.Integer, primary_key=True)
    slug = db.Column(db.String(100), nullable=False, unique=True)
    name = db.Column(db.String(200), nullable=False)
    kind = db.Column(db.String(16), nullable=False, default="plan")
    active = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # The "mailing allowed" intention: e-mail broadcasts may reach this product's members.
    mailing_allowed_at = db.Column(db.DateTime, nullable=True)
    mailing_allowed_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"),
                                      nullable=True)

    memberships = db.relationship("Membership", back_populates="product", lazy="dynamic")
    mailing_allowed_by = db.relationship("User")

    @property
    def mailing_allowed(self) -> bool:
        """True when an admin granted the mailing intention for this product."""
        return self.mailing_allowed_at is not None


class Membership(db.Model):
    """A customer's membership of a product, with its status and dates."""
    __tablename__ = "memberships"
    __table_args__ = (
        Index("ix_memberships_product_status_customer", "product_id", "status", "customer_id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    customer_id = db.Column(db.Integer, db.ForeignKey("customers.id", ondelete="CASCADE"),
                            nullable=False, index=True)
    product_id = db.Column(db.Integer, db.ForeignKey("products.id", ondelete="CASCADE"),
                           nullable=False)
    status = db.Column(db.String(16), nullable=False, default="active")
    started_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    expires_at = db.Column(db.DateTime, nullable=True)
    cancelled_at = db.Column(db.DateTime, nullable=True)

    customer = db.relationship("Customer", back_populates="memberships")
    product = db.relationship("Product", back_populates="memberships")


class MembershipCount(db.Model):
    """Members of a product in one status, kept by triggers on ``memberships`` (migration 0016).

    A product's count is the sum of its rows: each database connection adds to one of 16
    ``slot`` rows, so concurrent writers of one product seldom wait for each other's commit.
    """
    __tablename__ = "membership_counts"

    product_id = db.Column(db.Integer, primary_key=True)
    status = db.Column(db.String(16), primary_key=True)
    slot = db.Column(db.Integer, primary_key=True)
    members = db.Column(db.Integer, nullable=False)


class MembershipComboItem(db.Model):
    """A (product, status) pair of a membership combination (a set of pairs some customers or
    flagged addresses hold), kept by triggers (migration 0020). Read by product and status."""
    __tablename__ = "membership_combo_items"

    product_id = db.Column(db.Integer, primary_key=True)
    status = db.Column(db.String(16), primary_key=True)
    combo_id = db.Column(db.Integer, primary_key=True)


class MembershipComboCount(db.Model):
    """The customers whose memberships are exactly one combination, and how many of them share
    their address (each the sum of 16 ``slot`` rows, as ``MembershipCount``), migration 0020."""
    __tablename__ = "membership_combo_counts"

    combo_id = db.Column(db.Integer, primary_key=True)
    slot = db.Column(db.Integer, primary_key=True)
    customers = db.Column(db.Integer, nullable=False)
    sharers = db.Column(db.Integer, nullable=False)


class CustomerCombo(db.Model):
    """Each customer's membership combination (none without memberships) and whether another
    customer uses its address, migration 0020."""
    __tablename__ = "customer_combos"

    customer_id = db.Column(db.Integer, primary_key=True)
    combo_id = db.Column(db.Integer, nullable=False)
    sharer = db.Column(db.Boolean, nullable=False)


class AddressReach(db.Model):
    """A flagged address (its key; used by more than one customer, or suppressed and used):
    the combination of all its customers' pairs, and its flags (migration 0020)."""
    __tablename__ = "address_reach"

    email = db.Column(db.String(254), primary_key=True)
    combo_id = db.Column(db.Integer, nullable=False)
    shared = db.Column(db.Boolean, nullable=False)
    reason = db.Column(db.String(16), nullable=True)


class AddressComboCount(db.Model):
    """Flagged addresses per combination and ``kind`` (``shared`` or a suppression reason), each
    the sum of 16 ``slot`` rows (migration 0020)."""
    __tablename__ = "address_combo_counts"

    combo_id = db.Column(db.Integer, primary_key=True)
    kind = db.Column(db.String(16), primary_key=True)
    slot = db.Column(db.Integer, primary_key=True)
    addresses = db.Column(db.Integer, nullable=False)


class MembershipCombo(db.Model):
    """A membership combination's ``key``: its pairs as ``product:status``, sorted, comma-joined."""
    __tablename__ = "membership_combos"

    id = db.Column(db.Integer, primary_key=True)
    key = db.Column(db.Text, nullable=False, unique=True)
