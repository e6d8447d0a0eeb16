"""E-mail previews as documents of their own, shown in sandboxed frames under a policy of their own.

A mail's HTML needs inline styles, which the admin pages' Content-Security-Policy forbids, and an
``<iframe srcdoc>`` inherits the page's policy. So a preview is kept in Redis for an hour under
a key derived from its content, and the frame loads it from ``/network/mail-frame/<key>`` with a
policy that allows inline styles and images but no script at all, in a sandbox (opaque origin).
The URL is under /network/, so only super admins can open one.
"""
import hashlib
import hmac

from flask import Blueprint, current_app, make_response, url_for

from .extensions import redis_store
from .headers import talisman

FRAME_TTL = 3600
FRAME_POLICY = {
    "default-src": "'none'",
    "style-src": "'unsafe-inline'",
    "img-src": ["*", "data:"],
    "font-src": ["*", "data:"],
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
    """Register the frame route and ``mail_frame_url`` for templates."""
    app.register_blueprint(bp)
    app.jinja_env.globals["mail_frame_url"] = mail_frame_url


__all__ = ["mail_frame_url"]
