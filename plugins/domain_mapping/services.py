"""Mapping domains to sites: validation, limits, and the ``domain_mapping_created`` event."""
import re

from sqlalchemy import func, select

from app.core.extensions import db
from app.core.hostnames import HostNameError, host_name
from app.core.utils import get_row
from app.network.models import Site
from app.system_emails import fire_event

from . import EVENT
from .models import DomainMapping

class MappingError(ValueError):
    """A mapping that cannot be made; ``field`` names the wrong value."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


def clean_domain(value: str) -> str:
    """The domain as Herald stores host names (``app.core.hostnames.host_name``: IDNA 2008 A-labels,
    UTS #46 nontransitional, as browsers look it up: ``straße.de`` -> ``xn--strae-oqa.de``),
    without a scheme or path; raises MappingError."""
    domain = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://", "", (value or "").strip()).split("/", 1)[0]
    try:
        return host_name(domain, "The domain")
    except HostNameError as error:
        raise MappingError("domain", str(error)) from None


def map_domain(host, site_id, domain) -> DomainMapping:
    """Map ``domain`` to site ``site_id`` and fire ``domain_mapping_created``; the caller commits."""
    site = get_row(Site, site_id)
    if site is None:
        raise MappingError("site", "There is no site with that number.")
    domain = clean_domain(domain)
    taken = db.session.scalar(select(DomainMapping.id).where(DomainMapping.domain == domain)) or \
        db.session.scalar(select(Site.id).where(Site.domain == domain))
    if taken:
        raise MappingError("domain", f"{domain} is already used by a site.")
    limit = int(host.get_setting("max_domains_per_site") or 0)
    count = db.session.scalar(select(func.count()).where(DomainMapping.site_id == site.id))
    if limit and count >= limit:
        raise MappingError("domain", f"This site already has {count} domains (the most allowed).")
    mapping = DomainMapping(site=site, domain=domain)
    db.session.add(mapping)
    db.session.flush()
    host.do_action("audit_log", "domain_mapping.created", ("domain_mapping", mapping.id, domain),
                   f"{domain} points to site #{site.id} ({site.title})")
    fire_event(EVENT, customer=site.customer, domain=domain, site_title=site.title,
               site_url=site.url, cname_target=host.get_setting("cname_target"))
    return mapping


def remove_mapping(mapping_id, host=None) -> None:
    """Delete a mapping (no e-mail; recorded in the audit log through ``host``); the caller commits."""
    mapping = db.session.get(DomainMapping, mapping_id)
    if mapping is not None:
        if host is not None:
            host.do_action("audit_log", "domain_mapping.deleted", ("domain_mapping", mapping.id, mapping.domain),
                           f"{mapping.domain} no longer points to site #{mapping.site_id}")
        db.session.delete(mapping)


def recent_mappings(limit=200) -> list[DomainMapping]:
    """The newest mappings with their sites."""
    return db.session.scalars(select(DomainMapping).order_by(DomainMapping.id.desc()).limit(limit)).all()
