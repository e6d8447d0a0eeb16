"""Rendering a broadcast for one customer: the known placeholders, their values, subject and HTML.

Dashboard notices and the wizard's notice previews go through ``render_for``; e-mails (sends,
test sends, previews) fill the same values through the one message builder (``mail.py``).
"""
import re
from dataclasses import dataclass

from flask import current_app
from markupsafe import Markup
from sqlalchemy import select

from ..core.extensions import db
from ..core.hooks import apply_filters
from ..core.settings.services import get_option
from ..mail.placeholders import compile_template
from ..network.models import Customer, Membership, Site
from .audience import targets_customer
from .content import BROADCAST_PLACEHOLDERS, recipient_values

# Placeholders whose value is a whole URL: the only ones allowed at the start of href/src.
URL_PLACEHOLDERS = {"site_url", "unsubscribe_url"}
SAMPLE = {"name": "Sam Sample", "email": "sam.sample@example.com"}
_URL_START_RE = re.compile(r"\b(?:href|src)=[\"']\s*\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_IN_STYLE_RE = re.compile(r"\bstyle=(?:\"[^\"]*|'[^']*)\{\{")


def known_placeholders() -> dict:
    """Placeholder names usable in broadcasts, with descriptions (``broadcast_placeholders``)."""
    return apply_filters("broadcast_placeholders", dict(BROADCAST_PLACEHOLDERS))


def unsafe_placeholder_use(html: str) -> str | None:
    """A message when sanitised ``html`` puts a placeholder where a value could inject code.

    A customer controls their own name, so ``href="{{ customer_name }}"`` could become a
    ``javascript:`` link, and a value in ``style`` could load remote CSS.
    """
    for name in _URL_START_RE.findall(html or ""):
        if name not in URL_PLACEHOLDERS:
            return (f"{{{{ {name} }}}} cannot start a link or image address; put it after "
                    "https://… or use {{ site_url }}.")
    if _IN_STYLE_RE.search(html or ""):
        return "Placeholders cannot be used inside style attributes."
    return None


def site_url_of(domain, path) -> str:
    """The address of a site given its domain and path ('' when there is no site)."""
    if domain is None and path is None:
        return ""
    return Site(domain=domain, path=path).url


def first_site_url(customer_id) -> str:
    """The address of the customer's first site, or ''."""
    row = db.session.execute(select(Site.domain, Site.path).where(Site.customer_id == customer_id)
                             .order_by(Site.id).limit(1)).first()
    return site_url_of(*row) if row else ""


def placeholder_values(customer, site_url=None, unsubscribe_url="", used=None) -> dict:
    """Placeholder values for ``customer`` (None: a sample person), through the values filter.

    ``used`` (a set of names) skips the values that cost a query and no template needs.
    """
    def wanted(name):
        return used is None or name in used

    network_name = (get_option("network.name") or "") if wanted("network_name") else ""
    if customer is None:
        values = recipient_values(None, SAMPLE["email"], SAMPLE["name"],
                                  current_app.config["BASE_URL"], unsubscribe_url, network_name)
    else:
        if site_url is None:
            site_url = first_site_url(customer.id) if wanted("site_url") else ""
        values = recipient_values(customer.id, customer.email, customer.name, site_url,
                                  unsubscribe_url, network_name)
    return apply_filters("broadcast_placeholder_values", values, customer)


@dataclass(frozen=True)
class Rendered:
    """A broadcast rendered for one person: plain-text subject and sanitised, filled HTML."""
    subject: str
    html: Markup


def render_for(subject: str, body_html: str, values: dict, compile=compile_template) -> Rendered:
    """Fill ``subject`` (plain text, kept on one line) and ``body_html`` (already sanitised,
    values escaped); ``compile`` may be a caching version of ``compile_template``."""
    filled = compile(subject).render(values, escape_html=False)
    return Rendered(" ".join(filled.splitlines()),
                    Markup(compile(body_html).render(values, escape_html=True)))


def render_broadcast(broadcast, customer=None, unsubscribe_url="") -> Rendered:
    """``broadcast`` rendered for ``customer`` (None: a sample person)."""
    values = placeholder_values(customer, unsubscribe_url=unsubscribe_url)
    return render_for(broadcast.subject, broadcast.body_html, values)


def sample_customer(broadcast):
    """The targeted customer with the lowest id (the preview's default), or None.

    Two small index lookups instead of sorting the whole audience.
    """
    candidates = []
    if broadcast.customer_ids:
        candidates.append(min(broadcast.customer_ids))
    if broadcast.product_ids and broadcast.product_statuses:
        first_member = db.session.scalar(
            select(Membership.customer_id)
            .where(Membership.product_id.in_(broadcast.product_ids),
                   Membership.status.in_(broadcast.product_statuses))
            .order_by(Membership.customer_id).limit(1))
        if first_member is not None:
            candidates.append(first_member)
    return db.session.get(Customer, min(candidates)) if candidates else None


def is_targeted(broadcast, customer_id) -> bool:
    """True when ``customer_id`` is in the broadcast's audience."""
    return bool(db.session.scalar(select(targets_customer(broadcast, customer_id))))
