"""Core e-mails: the network's own events (registration, payments, memberships, sites) and their
default system e-mails. Active by default: `flask emails setup` (and the first `make run`)
activates it and installs these e-mails."""
from pathlib import Path

from app.system_emails import CUSTOMER_PLACEHOLDERS, SAMPLE_CUSTOMER

PLUGIN_INFO = {
    "name": "Core e-mails",
    "version": "1.0.0",
    "description": "Events and default e-mails for registration, e-mail confirmation, payments, "
                   "renewals, membership expiry and site publishing.",
    "author": "Herald",
    "requires": [],
    "default_active": True,
}

EMAILS_DIR = Path(__file__).parent / "emails"
PAYMENT = {
    "amount": "The amount, e.g. 19.00", "currency": "The currency code, e.g. EUR",
    "payment_reference": "The payment's reference", "product_name": "The product paid for (may be empty)",
    "payment_date": "The payment's date (YYYY-MM-DD)", "account_url": "Link to the customer's dashboard",
}
SAMPLE_PAYMENT = {"amount": "19.00", "currency": "EUR", "payment_reference": "INV-2041",
                  "product_name": "Business plan", "payment_date": "2026-11-23",
                  "account_url": "https://network.example/dashboard/"}

# slug: (name, description, extra payload keys, extra sample values)
EVENTS = {
    "customer_registered": ("Customer registered", "A new customer account was created.",
                            {"login_url": "Link to the login page"},
                            {"login_url": "https://network.example/login"}),
    "email_confirmation": ("Confirm e-mail address", "A customer must confirm their e-mail address.",
                           {"confirm_url": "The link that confirms the address"},
                           {"confirm_url": "https://network.example/confirm-email/sample-token"}),
    "payment_received": ("Payment received", "A payment was recorded as paid.", PAYMENT, SAMPLE_PAYMENT),
    "payment_failed": ("Payment failed", "A payment was recorded as failed.", PAYMENT, SAMPLE_PAYMENT),
    "renewal_payment_created": ("Renewal payment created", "A renewal payment is due.",
                                PAYMENT, SAMPLE_PAYMENT),
    "membership_expired": ("Membership expired", "A customer's membership expired.",
                           {"product_name": "The product", "expired_at": "The expiry date",
                            "renew_url": "Link to renew"},
                           {"product_name": "Business plan", "expired_at": "2026-11-23",
                            "renew_url": "https://network.example/dashboard/"}),
    "site_published": ("Site published", "A customer's site was published.",
                       {"site_title": "The site's title", "site_url": "The site's address"},
                       {"site_title": "Jane's Bakery", "site_url": "https://janes-bakery.example"}),
}

# slug: (event, audience, style, name, subject, delay)
EMAILS = {
    "welcome": ("customer_registered", "customer", "html", "Welcome",
                "Welcome to {{ network_name }}, {{ customer_first_name }}!", 0),
    "new_customer_admin": ("customer_registered", "admins", "plain", "New customer (to admins)",
                           "New customer: {{ customer_name }} <{{ customer_email }}>", 0),
    "confirm_email": ("email_confirmation", "customer", "html", "Confirm e-mail address",
                      "Please confirm your e-mail address", 0),
    "payment_received": ("payment_received", "customer", "html", "Payment received",
                         "Thank you: we received {{ amount }} {{ currency }}", 0),
    "payment_received_admin": ("payment_received", "admins", "plain", "Payment received (to admins)",
                               "Payment of {{ amount }} {{ currency }} from {{ customer_name }}", 0),
    "payment_failed": ("payment_failed", "customer", "html", "Payment failed",
                       "Your payment of {{ amount }} {{ currency }} did not go through", 0),
    "renewal_payment": ("renewal_payment_created", "customer", "html", "Renewal payment created",
                        'Your {{ product_name | default("membership") }} renewal: {{ amount }} {{ currency }}', 0),
    "membership_expired": ("membership_expired", "customer", "html", "Membership expired",
                           "Your {{ product_name }} membership has expired", 0),
    "site_published": ("site_published", "customer", "html", "Site published",
                       "{{ site_title }} is live!", 0),
}


def sample(extra):
    """A sample payload: the sample customer plus the event's own sample values."""
    return {**SAMPLE_CUSTOMER, **extra}


def setup(host):
    """Register the events and their default e-mails."""
    for slug, (name, description, keys, extra) in EVENTS.items():
        host.register_event(slug, name, description, {**CUSTOMER_PLACEHOLDERS, **keys}, sample(extra))
    for slug, (event, audience, style, name, subject, delay) in EMAILS.items():
        suffix = "html" if style == "html" else "txt"
        body = (EMAILS_DIR / f"{slug}.{suffix}").read_text()
        host.register_system_email(slug, event, audience, subject, body, name,
                                   description=EVENTS[event][1], style=style, delay=delay)
