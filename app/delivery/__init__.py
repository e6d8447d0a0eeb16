"""Delivery domain: planning runs into a per-recipient ledger, sending by RQ workers, reporting."""


def duration(seconds) -> str:
    """'1h05m', '3m20s', '45s' or '–' for an unknown number of seconds (a Jinja filter)."""
    if seconds is None:
        return "–"
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def init_app(app):
    """Declare the delivery settings, register the run pages, the JSON API and ``flask delivery``."""
    from ..core.extensions import csrf
    from . import jobs, models  # noqa: F401 - jobs: imported once here, not in every forked job
    from .api import bp as api_bp
    from .api import keyed as keyed_api_bp
    from .cli import delivery_cli
    from .progress import sent_and_failed
    from .reaper import supervisor_tasks
    from .services import on_broadcast_sent, on_run_cancelled
    from .settings import declare
    from .views import active_runs_panel, bp

    declare(app)
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(keyed_api_bp)
    csrf.exempt(keyed_api_bp)
    app.cli.add_command(delivery_cli)
    app.add_template_filter(duration, "delivery_duration")
    app.add_template_global(sent_and_failed, "delivery_sent_and_failed")
    hooks = app.extensions["herald_hooks"]
    hooks.add("network_dashboard_panels", active_runs_panel)
    hooks.add("broadcast_sent", on_broadcast_sent)
    hooks.add("broadcast_run_cancelled", on_run_cancelled)
    hooks.add("supervisor_tasks", supervisor_tasks)
