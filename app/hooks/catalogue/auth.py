"""Hooks of the auth domain: logins and roles."""
from ..registry import HookSpec

user_logged_in = HookSpec("user_logged_in", "action", """A user logged in successfully.

Arguments: ``user`` (User). Returns nothing.""")

login_failed = HookSpec("login_failed", "action", """A login attempt failed.

Arguments: ``email`` (str as typed), ``remote_addr`` (str). Returns nothing.""")
