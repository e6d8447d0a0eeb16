"""Error pages: HTML for people, JSON with a message under /api/."""
from flask import current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .extensions import db
from .inputs import FieldError
from .transient import is_transient

MESSAGES = {
    400: "The request could not be understood.",
    401: "You need to log in.",
    403: "You do not have permission to see this page.",
    404: "There is nothing here.",
    405: "That method is not allowed here.",
    409: "That conflicts with the current state.",
    413: "The request is too large.",
    429: "Too many attempts. Please wait and try again.",
    500: "Something went wrong on our side.",
    503: ("Herald could not reach its database or Redis in time. Try again in a moment; reload "
          "first to see whether what you sent was saved."),
}
RETRY_AFTER_SECONDS = 5


def json_errors(view):
    """Mark ``view`` (below its ``route`` decorator) as a JSON endpoint whose URL does not say so
    (the wizard's searches, the live previews): its errors are JSON whatever the request accepts,
    so a script calling it never gets an HTML error page."""
    view.json_errors = True
    return view


def wants_json() -> bool:
    """True for API requests, which get JSON errors: the key API (/api/), webhooks (/hooks/), the
    admin's session API (/network/api/), the admin's ``.json`` endpoints, views marked with
    ``json_errors``, or a client asking for JSON first."""
    return (request.path.startswith(("/api/", "/hooks/", "/network/api/")) or request.path.endswith(".json")
            or getattr(current_app.view_functions.get(request.endpoint), "json_errors", False)
            or request.accept_mimetypes.best == "application/json")


def error_response(code: int, message: str | None = None):
    """An error page or JSON body with ``code`` and a human message."""
    message = message or MESSAGES.get(code, "Error")
    if wants_json():
        return jsonify(error=message, status=code), code
    return render_template("errors/error.html", code=code, message=message), code


def register_error_handlers(app):
    """Register the handlers on ``app``."""

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return error_response(400, "The form expired or was sent from elsewhere (CSRF check "
                                   "failed). Reload the page and try again.")

    @app.errorhandler(FieldError)
    def field_error(error):  # core.inputs.json_fields: an unknown field or one of the wrong JSON type
        db.session.rollback()
        return jsonify(error=str(error), status=400, field=error.field,
                       fields={error.field: error.message}), 400

    @app.errorhandler(HTTPException)
    def http_error(error):
        description = error.description if error.description != type(error).description else None
        return error_response(error.code or 500, description)

    @app.errorhandler(Exception)
    def unexpected(error):
        if is_transient(error):  # the database or Redis away, locked or timing out: not a bug
            app.logger.warning("%s %s: 503, a backend did not answer: %s", request.method, request.path,
                               str(error).splitlines()[0][:300])
            db.session.rollback()  # the failed transaction ends here, whoever serves the next request
            body, code = error_response(503)
            return body, code, {"Retry-After": str(RETRY_AFTER_SECONDS)}
        app.logger.exception("unhandled error")
        return error_response(500)
