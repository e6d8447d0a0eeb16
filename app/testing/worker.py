"""The RQ worker of the tests: runs the queued jobs for real, in this process, against the run's Redis."""
import pytest


class JobFailed(AssertionError):
    """A job raised while the test's worker ran it; the message carries the job's traceback."""


def failed_job_ids(queues) -> set:
    """Ids of the jobs in the failed-job registries of ``queues`` (logical names)."""
    from rq.registry import FailedJobRegistry

    from app.core.jobs import get_queue

    return {job_id for name in queues
            for job_id in FailedJobRegistry(queue=get_queue(name)).get_job_ids()}


def run_jobs(queues=None, max_jobs=None, scheduler=False, allow_failures=False) -> list:
    """Run the queued jobs of ``queues`` (default: every queue) until none is left, or ``max_jobs``.

    The test's session is committed first (the jobs run in their own sessions and must see its
    data; SQLite would also lock them out) and expired after, so objects reload what the jobs
    wrote. ``scheduler=True`` first moves due scheduled jobs (``enqueue_in``) onto their queues.
    A job that raises fails the test with its traceback, unless ``allow_failures``; the ids of
    the jobs that failed are returned either way.
    """
    from rq.job import Job

    from app.core.extensions import db, redis_store
    from app.core.jobs import QUEUES
    from app.core.worker import make_worker

    from .database import in_rolled_back_test

    if in_rolled_back_test():
        raise RuntimeError("jobs run in sessions of their own, which cannot see a test that is rolled "
                           "back: request the worker fixture or mark the test @pytest.mark.committed")
    queues = tuple(queues or QUEUES)
    db.session.commit()
    before = failed_job_ids(queues)
    make_worker(queues=queues, simple=True).work(burst=True, max_jobs=max_jobs, with_scheduler=scheduler)
    db.session.expire_all()
    failed = sorted(failed_job_ids(queues) - before)
    if failed and not allow_failures:
        reports = []
        for job_id in failed:
            job = Job.fetch(job_id, connection=redis_store.client)
            result = job.latest_result()
            reports.append(f"{job.func_name}{job.args}:\n{result.exc_string if result else job.exc_info}")
        raise JobFailed("a job failed in the test's worker:\n" + "\n".join(reports))
    return failed


class Worker:
    """What the ``worker`` fixture gives: ``work()`` runs queued jobs (see ``run_jobs``)."""

    def __init__(self, app):
        self.app = app

    def work(self, queues=None, max_jobs=None, scheduler=False, allow_failures=False) -> list:
        """Run the queued jobs now, in the test's app; see ``run_jobs`` for the arguments."""
        return run_jobs(queues, max_jobs, scheduler, allow_failures)


@pytest.fixture
def worker(app, committed):
    """Function: an RQ worker for this test (burst mode, this process); needs committed data."""
    return Worker(app)
