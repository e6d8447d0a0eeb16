"""Security headers on every response (Flask-Talisman), and e-mail previews in frames of their own.

The Content-Security-Policy lets pages run only the app's own script files and load only its own
style sheets: no inline script, no event-handler attributes, no ``javascript:`` URLs, no remote
script. Style *attributes* stay allowed (``style-src-attr``): the sanitised HTML of dashboard
notices keeps its colours and alignment with them, and an attribute cannot load or run anything.

A mail's HTML needs inline styles, which that policy forbids, and an ``<iframe srcdoc>`` inherits
the page's policy. So a preview is kept in Redis for an hour under a key derived from its content,
and its frame loads it from ``/network/mail-frame/<key>`` with a policy that allows inline styles,
this site's and ``data:`` images and fonts, no remote image or font and no script at all, in a
sandbox (opaque origin). The URL is under /network/, so only
super admins can open one.
"""
import hashlib
import hmac

from flask import Blueprint, current_app, make_response, url_for
from flask_talisman import Talisman

from .extensions import redis_store

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "style-src-attr": "'unsafe-inline'",
    "img-src": ["'self'", "data:", "https:"],
    "font-src": "'self'",
    "connect-src": "'self'",
    "frame-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
HSTS_SECONDS = 365 * 24 * 3600

talisman = Talisman()
FRAME_TTL = 3600
FRAME_POLICY = {
    "default-src": "'none'",
    "style-src": "'unsafe-inline'",
    "img-src": ["'self'", "data:"],  # no remote image: a preview must not tell a sender (or a
    "font-src": ["'self'", "data:"],  # tracking pixel) that an admin looked, nor leak their address
    "frame-ancestors": "'self'",
    "sandbox": "",
}
EXPIRED = ("<!doctype html><meta charset='utf-8'><p style='font:14px sans-serif;color:#555'>"
           "This preview has expired. Reload the page to see it again.</p>")

bp = Blueprint("mail_frame", __name__, url_prefix="/network/mail-frame")


def _key(token: str) -> str:
    return redis_store.key("mail-frame", token)


def mail_frame_url(html) -> str:
    """Keep ``html`` (a whole mail document) for an hour; the URL of a frame that shows it."""
    html = str(html or "")
    token = hmac.new(current_app.config["SECRET_KEY"].encode(), html.encode("utf-8", "replace"),
                     hashlib.sha256).hexdigest()[:40]
    redis_store.client.set(_key(token), html.encode("utf-8", "replace"), ex=FRAME_TTL)
    return url_for("mail_frame.show", token=token)


@bp.route("/<token>")
@talisman(content_security_policy=FRAME_POLICY, frame_options="SAMEORIGIN")
def show(token):
    """The kept document, for a sandboxed frame of this site; a short note once it expired."""
    stored = redis_store.client.get(_key(token)) if token.isalnum() and len(token) == 40 else None
    body = stored.decode("utf-8", "replace") if stored is not None else EXPIRED
    response = make_response(body, 200 if stored is not None else 404)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Cache-Control"] = "private, no-store"
    return response




def init_app(app):
    """Send the headers on every response and serve the mail frames. In production the session cookie is Secure and HSTS
    is sent on https requests (TLS itself is the reverse proxy's job, so nothing is redirected)."""
    production = bool(app.config.get("PRODUCTION"))
    talisman.init_app(
        app,
        force_https=False,
        strict_transport_security=production,
        strict_transport_security_max_age=HSTS_SECONDS,
        session_cookie_secure=production,
        session_cookie_http_only=True,
        frame_options="DENY",
        content_security_policy=CONTENT_SECURITY_POLICY,
        content_security_policy_nonce_in=[],
        referrer_policy="strict-origin-when-cross-origin",
        x_content_type_options=True,
        permissions_policy={"camera": "()", "microphone": "()", "geolocation": "()"},
    )
    app.register_blueprint(bp)
    app.jinja_env.globals["mail_frame_url"] = mail_frame_url
