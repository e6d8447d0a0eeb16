"""Server-side role rules: /network/ is for super admins, /dashboard for logged-in users."""
from flask import abort, redirect, request, url_for
from flask_login import current_user

ADMIN_PREFIX = "/network"
LOGIN_PREFIXES = ("/network", "/dashboard")


def enforce_roles():
    """Before every request: anonymous visitors go to login, non-admins get 403 under /network/."""
    path = request.path
    if not any(path == p or path.startswith(p + "/") for p in LOGIN_PREFIXES):
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if (path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")) and not current_user.is_super_admin:
        abort(403)
    return None

