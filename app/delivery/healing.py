"""The delivery engine's part of the supervisor (``supervisor_tasks``): every run that is planning,
sending or paused is checked each pass, and one that no tracked job moves any more is moved again.

- ``planning`` with no live job (the planning job failed, was killed or was lost with Redis):
  ``plan_run`` is enqueued again; a run planned meanwhile makes it a no-op.
- ``sending``: the dead jobs' rows are settled (``reaper.reap``), lost chunks go back to the waiting
  ones; with no live job the waiting chunks get runners, queued rows that Redis forgot are
  dispatched again from the database, deferred rows get a retry job, and a settled run finishes.
- ``paused``: only the dead jobs' rows are settled.
Nothing here commits: the supervisor commits after each run's step.
"""
import logging
from functools import partial

from sqlalchemy import select

from ..broadcasts.models import BroadcastRun
from ..core.extensions import db
from ..core.job_tracking import live_jobs
from ..core.jobs import enqueue_after_commit
from . import chunks, jobs, reaper

log = logging.getLogger(__name__)


def supervisor_tasks(tasks: list) -> list:
    """``supervisor_tasks`` filter: add the check of every active run."""
    return [*tasks, run_steps]


def run_steps() -> list:
    """One step per run that is planning, sending or paused."""
    return [partial(heal, run_id) for run_id in reaper.active_run_ids()]


def heal(run_id: int) -> str | None:
    """Check one run and move it on if nothing does; returns its status afterwards (None: gone).
    Redis and database errors propagate (the supervisor logs them and tries next pass)."""
    status = db.session.scalar(select(BroadcastRun.status).where(BroadcastRun.id == run_id))
    idle = status in ("planning", "sending") and live_jobs(chunks.track(run_id)) == 0
    if status == "planning":
        if idle:
            log.warning("run %s is planning but no job plans it: planning again", run_id)
            enqueue_after_commit(jobs.plan_run, run_id, queue="delivery", track=chunks.track(run_id))
        return status
    if status in ("sending", "paused"):
        return reaper.supervise(run_id, thorough=True, idle=idle)
    return status
