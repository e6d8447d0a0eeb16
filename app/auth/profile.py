"""The super admin's profile: who they are, changing the password, logging out other sessions."""
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user

from ..audit.services import record
from ..core.extensions import db
from ..core.hooks import apply_filters
from .devices import DEVICE_COOKIE, device_id, remember_device
from .forms import ChangePasswordForm
from .services import set_password, verify_password
from .throttle import LoginThrottled, reserve
from .views import bp


def _keep_this_browser(user, device, message):
    """Commit a rotation of ``user``'s session token and keep this browser logged in: its
    session, its remember-me cookie when it had one, and its device id (``device``, read before
    the rotation) under the new token. Returns the redirect to the profile."""
    remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
    db.session.commit()
    login_user(user, remember=remembered)
    flash(message, "success")
    response = redirect(url_for("auth.profile"))
    remember_device(response, user, device)
    return response


@bp.route("/network/profile/end-other-sessions", methods=["POST"])
def end_other_sessions():
    """Log out every other session (remember-me and device cookies too); this one stays."""
    user = current_user._get_current_object()
    device = device_id(request.cookies.get(DEVICE_COOKIE), user)
    user.end_sessions()
    record("user.sessions_ended", user, "logged out every other session")
    return _keep_this_browser(user, device, "Every other session of your account is logged out.")


@bp.route("/network/profile/password", methods=["POST"])
def change_password():
    """Change the admin's own password (the current one is asked again); every other session
    ends, this one stays. A wrong current password or a bad new one shows the profile, 400."""
    user = current_user._get_current_object()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        device = device_id(request.cookies.get(DEVICE_COOKIE), user)
        try:  # the current password is guessed no faster here than on the login page
            reservation = reserve(user.email, request.remote_addr, device)
        except LoginThrottled as throttled:
            form.current_password.errors.append(str(throttled))
            return render_profile(form, status=429)
        if verify_password(user, form.current_password.data):
            reservation.forget()
            set_password(user, form.new_password.data, "password changed on the profile page")
            return _keep_this_browser(user, device, "Your password is changed; every other session is logged out.")
        form.current_password.errors.append("This is not your current password.")
    return render_profile(form, status=400)


@bp.route("/network/profile")
def profile():
    """The super admin's profile: who they are, and panels such as their API keys."""
    return render_profile()


def render_profile(form=None, status=200, message=None):
    """The profile page of the logged-in admin (other domains add panels by filter); ``message``
    (Markup) is shown on top, once, e.g. a newly issued secret."""
    panels = apply_filters("admin_profile_panels", [], current_user)
    return render_template("auth/profile.html", user=current_user, panels=panels, message=message,
                           password_form=form or ChangePasswordForm(formdata=None)), status
