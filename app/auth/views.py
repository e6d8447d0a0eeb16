"""Login and logout pages and the super admin's profile."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..audit.services import record
from ..core.extensions import db
from ..core.hooks import apply_filters
from ..core.redirects import safe_next
from .forms import LoginForm
from .services import LoginThrottled, authenticate
from .throttle import DEVICE_COOKIE, device_token, is_trusted_device

bp = Blueprint("auth", __name__)


def _home_for(user):
    return url_for("network.dashboard") if user.is_super_admin else url_for("dashboard.index")


@bp.route("/")
def index_root():
    """The site root: the right home for a logged-in user, else the login page."""
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form and log the user in."""
    form = LoginForm(next=request.args.get("next", ""))
    status, headers = 200, {}
    if form.validate_on_submit():
        email = form.email.data
        trusted = is_trusted_device(request.cookies.get(DEVICE_COOKIE), email)
        try:
            result = authenticate(email, form.password.data, request.remote_addr, trusted)
        except LoginThrottled as throttled:
            form.form_errors.append(str(throttled))
            status, headers = 429, {"Retry-After": str(throttled.retry_after)}
        else:
            if result.user is not None:
                login_user(result.user, remember=form.remember.data)
                response = redirect(safe_next(form.next.data, _home_for(result.user)))
                _remember_device(response, email)
                return response
            form.form_errors.append(result.message)
            status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status, headers


def _remember_device(response, email):
    """Give the browser the account's device cookie (a year): the account-wide login throttle
    never holds it back (app.auth.throttle)."""
    config = current_app.config
    response.set_cookie(DEVICE_COOKIE, device_token(email), max_age=365 * 24 * 3600,
                        secure=config["SESSION_COOKIE_SECURE"], httponly=True, samesite="Lax")


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Log out (POST with a CSRF token, so no link can log anybody out). The session token is
    rotated, so no copy of this session's or a remember-me cookie works afterwards."""
    current_user.end_sessions()
    db.session.commit()
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/network/profile/end-other-sessions", methods=["POST"])
def end_other_sessions():
    """Log out every other session (and remember-me cookie) of the admin; this one stays."""
    user = current_user._get_current_object()
    remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
    user.end_sessions()
    record("user.sessions_ended", user, "logged out every other session")
    db.session.commit()
    login_user(user, remember=remembered)
    flash("Every other session of your account is logged out.", "success")
    return redirect(url_for("auth.profile"))


@bp.route("/network/profile")
def profile():
    """The super admin's profile: who they are, and panels such as their API keys."""
    return render_profile()


def render_profile(status=200, message=None):
    """The profile page of the logged-in admin (other domains add panels by filter); ``message``
    (Markup) is shown on top, once, e.g. a newly issued secret."""

    panels = apply_filters("admin_profile_panels", [], current_user)
    return render_template("auth/profile.html", user=current_user, panels=panels,
                           message=message), status
