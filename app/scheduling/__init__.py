"""Scheduling domain: one-off, recurring and RRULE broadcasts, fired once per occurrence."""


def init_app(app):
    """Register the schedule pages, CLI, settings, the dashboard panel and the worker thread."""
    from flask import render_template
    from markupsafe import Markup

    from ..settings.services import SettingSpec
    from .cli import scheduler_cli, schedules_cli, start_scheduler_thread
    from .services import GRACE_SETTING, upcoming
    from .views import bp

    app.register_blueprint(bp)
    app.cli.add_command(scheduler_cli)
    app.cli.add_command(schedules_cli)
    settings = app.extensions["herald_settings"]
    settings.declare(SettingSpec(GRACE_SETTING, 60, "Grace window for missed sends (minutes)",
                                 "A send missed while Herald was down still goes out on restart "
                                 "within this window; older ones are recorded as skipped.", "int"))
    settings.declare(SettingSpec("scheduling.default_timezone", "UTC", "Network time zone",
                                 "Default IANA time zone for schedules, e.g. Europe/Amsterdam."))
    hooks = app.extensions["herald_hooks"]

    def next_sends_panel(panels):
        html = render_template("scheduling/_next_sends.html", schedules=upcoming(limit=8))
        return [*panels, ("Next sends", Markup(html))]

    def start_with_worker(worker, with_scheduler):
        if with_scheduler:
            start_scheduler_thread(app)

    hooks.add("network_dashboard_panels", next_sends_panel)
    hooks.add("worker_starting", start_with_worker)
