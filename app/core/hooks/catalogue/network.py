"""Hooks of the network domain: customers, sites, products and memberships."""
from ..registry import HookSpec

customer_created = HookSpec("customer_created", "action", """A customer was registered.

Arguments: ``customer`` (Customer, already flushed, has an id). Returns nothing.""")

site_published = HookSpec("site_published", "action", """A site's status became published.

Arguments: ``site`` (Site). Returns nothing.""")

membership_changed = HookSpec("membership_changed", "action", """A membership was created or its
status changed.

Arguments: ``membership`` (Membership), ``old_status`` (str or None). Returns nothing.""")

payment_recorded = HookSpec("payment_recorded", "action", """A payment was recorded.

Arguments: ``payment`` (dict with customer, amount, currency, status, reference). Returns nothing.""")
