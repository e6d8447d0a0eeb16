"""Network services: finding customers, sites and products; registering, confirming, expiring."""
from flask import current_app
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import false, func, or_, select

from ..audit.services import record
from ..core.events import announce
from ..core.extensions import db
from ..core.hooks import do_action
from ..core.inputs import clean_name, id_or_none
from ..core.settings.services import get_option
from ..core.utils import keyset_page, normalise_email, utcnow
from ..mail.addresses import address_key, normalise_address
from .models import MEMBERSHIP_STATUSES, Customer, Membership, MembershipCount, Product, Site


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def customer_search_clause(q: str):
    """A WHERE clause matching customers by id, or e-mail/name prefix (index-backed)."""
    raw = (q or "").strip()
    q = raw.lower()
    if not q:
        return None
    if q.isdigit():  # a customer number: an id, or one that cannot exist
        number = id_or_none(q)
        return Customer.id == number if number else false()
    # an address prefix in the key's folding (ASCII letters only, as lower() of the "C" column)
    return or_(func.lower(Customer.email).like(_like_prefix(normalise_email(raw)), escape="\\"),
               func.lower(Customer.name).like(_like_prefix(q), escape="\\"))


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
    """{product_id: {status: count}} for the given products, read from ``membership_counts``
    (kept by triggers): a few rows per product, however many members it has."""
    counts: dict = {pid: {} for pid in product_ids}
    if not product_ids:
        return counts
    members = func.sum(MembershipCount.members)
    rows = db.session.execute(select(MembershipCount.product_id, MembershipCount.status, members)
                              .where(MembershipCount.product_id.in_(product_ids))
                              .group_by(MembershipCount.product_id, MembershipCount.status)
                              .having(members > 0)
                              .order_by(MembershipCount.product_id, MembershipCount.status))
    for product_id, status, count in rows:
        counts[product_id][status] = count
    return counts


def find_customer(text: str):
    """The customer with this number, or the oldest customer with this e-mail address, or None."""
    text = (text or "").strip()
    if text.isdigit():
        number = id_or_none(text)
        return db.session.get(Customer, number) if number else None
    return db.session.scalar(select(Customer).where(func.lower(Customer.email) == address_key(text))
                             .order_by(Customer.id).limit(1))


def register_customer(email, name="", user=None, locale="en", timezone="UTC") -> Customer:
    """Create a customer, fire ``customer_created`` and the welcome (and confirmation) events.

    ``email`` is stored as ``mail.addresses.normalise_address`` gives it (the customer's own
    spelling, domain in lower case); AddressError (a ValueError) when it is not an address, and
    ValueError when ``name`` holds a control character (``core.inputs.clean_name``). The
    caller commits; the e-mails go out after the commit.
    """
    name = clean_name(name, "The customer's name")
    customer = Customer(email=normalise_address(email), name=name, user=user, locale=locale,
                        timezone=timezone)
    db.session.add(customer)
    db.session.flush()
    do_action("customer_created", customer)
    announce("customer_registered", customer=customer, login_url=network_url("/login"))
    if get_option("network.confirm_email"):
        request_email_confirmation(customer)
    return customer


def network_url(path: str) -> str:
    """An absolute link to ``path`` on the network (for e-mails)."""
    return current_app.config["BASE_URL"] + path


def _confirm_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="herald.confirm-email")


def request_email_confirmation(customer: Customer) -> None:
    """Fire ``email_confirmation`` with a signed link that confirms the customer's address."""
    token = _confirm_serializer().dumps([customer.id, customer.email])
    announce("email_confirmation", customer=customer, confirm_url=network_url(f"/confirm-email/{token}"))


def confirm_email(token: str):
    """Mark the address in a confirmation link confirmed; the customer, or None for a bad link."""
    try:
        customer_id, email = _confirm_serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    customer = db.session.get(Customer, customer_id)
    if customer is None or customer.email != email:
        return None
    customer.email_confirmed_at = customer.email_confirmed_at or utcnow()
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
    if status == "expired" and old != "expired":
        announce("membership_expired", customer=membership.customer,
                 product_name=membership.product.name, renew_url=network_url("/dashboard/"),
                 expired_at=(membership.expires_at or utcnow()).strftime("%Y-%m-%d"))


def expire_due_memberships(now=None, limit=1000) -> int:
    """Expire up to ``limit`` active or on-hold memberships whose end date has passed.

    Each fires ``membership_expired``; one ``memberships.expired`` audit entry names them;
    returns how many were expired. The caller commits (and
    calls again while the result equals ``limit``).
    """
    now = now or utcnow()
    due = db.session.scalars(select(Membership).where(Membership.expires_at <= now,
                                                      Membership.status.in_(("active", "on-hold")))
                             .order_by(Membership.id).limit(limit)).all()
    for membership in due:
        set_membership_status(membership, "expired")
    if due:
        record("memberships.expired", ("membership", None, "memberships past their end date"),
               f"{len(due)} expired: #{', #'.join(str(m.id) for m in due[:20])}"
               + (" …" if len(due) > 20 else ""))
    return len(due)


def publish_site(site: Site) -> None:
    """Mark a site published and fire ``site_published``; the caller commits."""
    if site.status == "published":
        return
    site.status, site.published_at = "published", utcnow()
    db.session.flush()
    record("site.published", site, f"site of {site.customer.email}" if site.customer else "")
    do_action("site_published", site)
    announce("site_published", customer=site.customer, site_title=site.title, site_url=site.url)


def current_customer():
    """The Customer of the logged-in user, or None (a super admin may have none); loaded with the
    user (auth.services.load_user)."""
    return getattr(current_user, "customer", None)
