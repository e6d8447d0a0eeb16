"""Domain mapping: point a customer's own domain at one of their sites.

The example plugin of docs/plugins.md; it uses every part of the plugin API: an event and a
default system e-mail, a blueprint (``plugin_domain_mapping``) with its own templates, an admin
menu entry, settings with defaults, its own table (``domain_mapping_*``) from its own Alembic
branch, and activation callbacks.
"""
import logging
from pathlib import Path

from app.plugins import Setting
from app.system_emails import CUSTOMER_PLACEHOLDERS, SAMPLE_CUSTOMER

PLUGIN_INFO = {
    "name": "Domain mapping",
    "version": "1.0.0",
    "description": "Map customers' own domains to their sites, and tell them how to set up DNS.",
    "author": "Herald",
    "requires": [],
}

log = logging.getLogger(__name__)
EVENT = "domain_mapping_created"
PAYLOAD_KEYS = {**CUSTOMER_PLACEHOLDERS,
                "domain": "The mapped domain", "site_title": "The site's title",
                "site_url": "The site's current address",
                "cname_target": "Where the domain's CNAME record must point"}
SAMPLE_PAYLOAD = {**SAMPLE_CUSTOMER, "domain": "www.janes-bakery.example", "site_title": "Jane's Bakery",
                  "site_url": "https://network.example/janes-bakery", "cname_target": "sites.network.example"}
SETTINGS = {
    "cname_target": Setting("sites.herald.localhost", "CNAME target customers point their domains to", "host",
                            help="A domain name; it goes into the customer's e-mail."),
    "max_domains_per_site": Setting(5, "Most domains one site may have", min=0, max=1_000, help="0: no limit."),
}


def setup(host):
    """Register the event, its e-mail, the settings, the admin page and its menu entry."""
    from .views import make_blueprint

    host.register_settings(SETTINGS)
    host.register_event(EVENT, "Domain mapping created",
                        "A domain was mapped to a customer's site.", PAYLOAD_KEYS, SAMPLE_PAYLOAD)
    body = (Path(__file__).parent / "emails" / "domain_mapping_created.html").read_text()
    host.register_system_email("domain_mapping_created", EVENT, "customer",
                               "{{ domain }} now points to {{ site_title }}", body,
                               "Domain mapping created",
                               "Tells the customer their domain is mapped and how to set up DNS.")
    host.add_blueprint(make_blueprint(host), url_prefix="/network/domain-mapping")
    host.add_menu_item("Domain mapping", "plugin_domain_mapping.index", order=45)


def activate(host):
    """Called when an admin activates the plugin: its e-mail now waits on Reset & Import."""
    log.info("domain mapping activated; import its e-mail under System emails > Reset & Import")


def deactivate(host):
    """Called when an admin deactivates the plugin (mappings are kept)."""
    log.info("domain mapping deactivated; existing mappings are kept")
