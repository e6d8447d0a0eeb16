"""Security headers on every response, set by Flask-Talisman: CSP, frame and sniffing rules, HSTS.

The Content-Security-Policy lets pages run only the app's own script files and load only its own
style sheets: no inline script, no event-handler attributes, no ``javascript:`` URLs, no remote
script. Style *attributes* stay allowed (``style-src-attr``): the sanitised HTML of dashboard
notices keeps its colours and alignment with them, and an attribute cannot load or run anything.
E-mail previews are separate documents (app/core/mailframe.py) with a policy of their own.
"""
from flask_talisman import Talisman

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


def init_app(app):
    """Send the headers on every response. In production the session cookie is Secure and HSTS
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
