"""Login and logout pages (the profile pages are in ``profile``)."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..audit.services import record
from ..core.extensions import db
from ..core.hooks import apply_filters
from ..core.redirects import safe_next
from .forms import LoginForm
from .services import LoginThrottled, authenticate
from .devices import DEVICE_COOKIE, device_id, remember_device

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
        try:
            result = authenticate(form.email.data, form.password.data, request.remote_addr,
                                  request.cookies.get(DEVICE_COOKIE))
        except LoginThrottled as throttled:
            form.form_errors.append(str(throttled))
            status, headers = 429, {"Retry-After": str(throttled.retry_after)}
        else:
            if result.user is not None:
                login_user(result.user, remember=form.remember.data)
                response = redirect(safe_next(form.next.data, _home_for(result.user)))
                remember_device(response, result.user, result.device)
                return response
            form.form_errors.append(result.message)
            status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status, headers


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Log out (POST with a CSRF token, so no link can log anybody out). The session token is
    rotated, so no copy of this session's, a remember-me or a device cookie works afterwards;
    this browser gets its device cookie renewed (the login throttle keeps knowing it)."""
    user = current_user._get_current_object()
    device = device_id(request.cookies.get(DEVICE_COOKIE), user)
    user.end_sessions()
    db.session.commit()
    logout_user()
    flash("You are logged out.", "info")
    response = redirect(url_for("auth.login"))
    remember_device(response, user, device)  # this browser stays a known one; copies do not
    return response
