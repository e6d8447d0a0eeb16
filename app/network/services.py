"""Network services: finding customers, sites and products, and registering customers."""
from sqlalchemy import func, or_, select

from ..extensions import db
from ..hooks import do_action
from ..utils import keyset_page, normalise_email, utcnow
from .models import MEMBERSHIP_STATUSES, Customer, Membership, Product, Site


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def customer_search_clause(q: str):
    """A WHERE clause matching customers by id, or e-mail/name prefix (index-backed)."""
    q = (q or "").strip().lower()
    if not q:
        return None
    if q.isdigit():
        return Customer.id == int(q)
    pattern = _like_prefix(q)
    return or_(func.lower(Customer.email).like(pattern, escape="\\"),
               func.lower(Customer.name).like(pattern, escape="\\"))


def search_customers(q="", after=None, before=None, per_page=50):
    """One keyset page of customers matching ``q``, newest first."""
    query = select(Customer)
    clause = customer_search_clause(q)
    if clause is not None:
        query = query.where(clause)
    return keyset_page(query, Customer.id, after, before, per_page)


def search_sites(q="", after=None, before=None, per_page=50):
    """One keyset page of sites matching ``q`` (title or domain prefix), newest first."""
    query = select(Site)
    q = (q or "").strip().lower()
    if q:
        pattern = _like_prefix(q)
        query = query.where(or_(func.lower(Site.title).like(pattern, escape="\\"),
                                Site.domain.like(pattern, escape="\\")))
    return keyset_page(query, Site.id, after, before, per_page)


def search_products(q="", after=None, before=None, per_page=50):
    """One keyset page of products matching ``q`` (name or slug), newest first."""
    query = select(Product)
    q = (q or "").strip().lower()
    if q:
        pattern = "%" + _like_prefix(q)
        query = query.where(or_(func.lower(Product.name).like(pattern, escape="\\"),
                                Product.slug.like(pattern, escape="\\")))
    return keyset_page(query, Product.id, after, before, per_page)


def product_member_counts(product_ids) -> dict:
    """{product_id: {status: count}} for the given products, in one grouped query."""
    counts: dict = {pid: {} for pid in product_ids}
    if not product_ids:
        return counts
    rows = db.session.execute(select(Membership.product_id, Membership.status, func.count())
                              .where(Membership.product_id.in_(product_ids))
                              .group_by(Membership.product_id, Membership.status))
    for product_id, status, count in rows:
        counts[product_id][status] = count
    return counts


def register_customer(email, name="", user=None, locale="en", timezone="UTC") -> Customer:
    """Create a customer and fire ``customer_created``; the caller commits."""
    customer = Customer(email=normalise_email(email), name=name, user=user, locale=locale,
                        timezone=timezone)
    db.session.add(customer)
    db.session.flush()
    do_action("customer_created", customer)
    return customer


def set_membership_status(membership: Membership, status: str) -> None:
    """Change a membership's status and fire ``membership_changed``; the caller commits."""
    if status not in MEMBERSHIP_STATUSES:
        raise ValueError(f"Unknown membership status {status!r}.")
    old = membership.status
    membership.status = status
    if status == "cancelled":
        membership.cancelled_at = membership.cancelled_at or utcnow()
    db.session.flush()
    do_action("membership_changed", membership, old)


def publish_site(site: Site) -> None:
    """Mark a site published and fire ``site_published``; the caller commits."""
    if site.status == "published":
        return
    site.status, site.published_at = "published", utcnow()
    db.session.flush()
    do_action("site_published", site)
