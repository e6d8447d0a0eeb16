"""Scheduling domain: one-off, recurring and RRULE broadcasts, fired once per occurrence."""


def init_app(app):
    """Register the schedule pages, API, CLI, wizard modes, hooks, settings and the worker thread."""
    from ..broadcasts.forms import WhenForm
    from ..core.settings.services import SettingSpec
    from .api import bp as api_bp
    from .cli import scheduler_cli, schedules_cli
    from .forms import install_fields
    from .hooks import register_hooks
    from .modes import register_modes
    from .services import GRACE_SETTING
    from .views import bp

    register_modes()
    install_fields(WhenForm)
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    app.cli.add_command(scheduler_cli)
    app.cli.add_command(schedules_cli)
    app.extensions["herald_settings"].declare(SettingSpec(
        GRACE_SETTING, 60, "Grace window for missed sends (minutes)",
        "A send missed while Herald was down still goes out on restart within this window; "
        "older ones are recorded as skipped, never sent late.", "int",
        min=0, max=10_080))
    from .spacing import declare_settings

    declare_settings(app.extensions["herald_settings"], SettingSpec)
    register_hooks(app)
    from .services import describe
    from .views import preview_context

    app.jinja_env.globals.update(describe_schedule=describe, schedule_preview=preview_context)
