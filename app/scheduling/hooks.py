"""How scheduling follows the rest of Herald: broadcast life-cycle hooks, panels, the worker."""
from flask import render_template
from markupsafe import Markup

from ..broadcasts.sending import SendError
from .scheduler import start_scheduler_thread
from .rules import RuleError
from .services import (
    ScheduleError,
    activate,
    back_to_draft,
    end,
    readiness,
    upcoming,
    upcoming_runs,
)


def _activate(broadcast):
    """Make the schedule live; a rule that no longer works is a 400 SendError, never a 500."""

    try:
        activate(broadcast)
    except (RuleError, ScheduleError) as error:
        raise SendError(f"The schedule cannot start: {error}", 400) from None


def _cancelled(broadcast, previous_status):
    if broadcast.schedule is not None and broadcast.schedule.status != "ended":
        end(broadcast.schedule)


def _next_sends_panel(panels):
    html = render_template("scheduling/_next_sends.html", schedules=upcoming(limit=8))
    return [*panels, ("Next sends", Markup(html))]


def _broadcast_panel(panels, broadcast):
    if broadcast.schedule is None or broadcast.schedule.status == "draft":
        return panels
    html = render_template("scheduling/_broadcast_panel.html", broadcast=broadcast,
                           schedule=broadcast.schedule, upcoming=upcoming_runs(broadcast.schedule))
    return [("Schedule", Markup(html)), *panels]


def register_hooks(app) -> None:
    """Register the scheduling domain's callbacks on ``app``'s hooks."""

    def start_with_worker(worker, with_scheduler):
        if with_scheduler:
            start_scheduler_thread(app)

    hooks = app.extensions["herald_hooks"]
    hooks.add("broadcast_scheduled", _activate)
    hooks.add("broadcast_unscheduled", back_to_draft)
    hooks.add("broadcast_cancelled", _cancelled)
    hooks.add("broadcast_readiness", readiness)
    hooks.add("broadcast_detail_panels", _broadcast_panel)
    hooks.add("network_dashboard_panels", _next_sends_panel)
    hooks.add("worker_starting", start_with_worker)
