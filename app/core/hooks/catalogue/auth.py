"""Hooks of the auth domain: logins and roles."""
from ..registry import HookSpec
from ..shapes import PANELS

user_logged_in = HookSpec("user_logged_in", "action", """A user logged in successfully.

Arguments: ``user`` (User). Returns nothing.""")

login_failed = HookSpec("login_failed", "action", """A login attempt failed.

Arguments: ``email`` (str as typed), ``remote_addr`` (str). Returns nothing.""")

admin_profile_panels = HookSpec("admin_profile_panels", "filter", """Filters the panels of a
super admin's profile page (``/network/profile``), e.g. the API keys.

Value: a list of ``(title, html)`` tuples, ``html`` being Markup; argument: ``user``. Returns
the list.""", shape=PANELS)
