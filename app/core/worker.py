"""The ``flask rq`` commands: run a worker (with the supervisor, optionally with RQ's scheduler)
that outlives Redis outages, and show queues."""
import logging
import signal
import threading
import time

import click
from flask import current_app
from flask.cli import AppGroup
from redis.exceptions import RedisError
from rq import SimpleWorker, Worker

from .extensions import redis_store
from .hooks import do_action
from .jobs import QUEUES, HeraldJob, get_queue
from .supervisor import Supervisor

log = logging.getLogger(__name__)
rq_cli = AppGroup("rq", help="Background workers (RQ on Redis).")
RECONNECT_MAX_DELAY = 30.0  # seconds between attempts to start working again after losing Redis


def make_worker(queues=QUEUES, simple=False):
    """A worker for this network's queues that runs jobs in the current app."""
    HeraldJob.app = current_app._get_current_object()
    worker_class = SimpleWorker if simple else Worker
    return worker_class([get_queue(name) for name in queues], connection=redis_store.client,
                        job_class=HeraldJob)


def work_until_stopped(worker, burst: bool = False, with_scheduler: bool = False) -> None:
    """Run ``worker``; when it quits because Redis failed (RQ ends its loop on most Redis
    errors), start a fresh one like it after 1, 2, 4 … 30 s, until one stops on request (SIGINT,
    SIGTERM) or, with ``burst``, once the queues are empty."""
    delay, queues = 1.0, [queue.name.rsplit(":", 1)[-1] for queue in worker.queues]
    simple = isinstance(worker, SimpleWorker)
    while True:
        started = time.monotonic()
        try:
            worker.work(burst=burst, with_scheduler=with_scheduler)
        except RedisError as error:
            log.warning("worker %s lost Redis: %s", worker.name, error)
        if burst or worker._stop_requested or worker._shutdown_requested_date is not None:
            return  # RQ records a SIGINT/SIGTERM there (it raises StopRequested when idle)
        if time.monotonic() - started > 60:
            delay = 1.0
        log.warning("worker %s stopped unexpectedly; starting again in %.0f s", worker.name, delay)
        while True:  # a worker is made on Redis (its name, its address): wait until it is back
            if _sleep_unless_stopped(delay):
                return
            delay = min(delay * 2, RECONNECT_MAX_DELAY)
            try:
                worker = make_worker(queues, simple)
                break
            except RedisError as error:
                log.warning("cannot start a worker yet (Redis: %s); trying again in %.0f s", error, delay)


def _sleep_unless_stopped(seconds: float) -> bool:
    """Sleep ``seconds``; True when SIGINT or SIGTERM arrived meanwhile (the caller stops)."""
    stopped = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopped.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stopped.wait(seconds)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return stopped.is_set()


@rq_cli.command("worker")
@click.option("--queues", "-q", multiple=True, type=click.Choice(QUEUES),
              help="Queues to listen on (default: all).")
@click.option("--with-scheduler", is_flag=True, help="Also run RQ's scheduler (delayed jobs).")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--simple", is_flag=True, help="Run jobs in this process instead of forking.")
def worker_command(queues, with_scheduler, burst, simple):
    """Run an RQ worker; start more on any machine sharing Redis and the database to scale out.
    Every worker but a burst one also runs the supervisor (one acts at a time)."""
    worker = make_worker(queues or QUEUES, simple)
    do_action("worker_starting", worker, with_scheduler and not burst)
    if not burst:
        Supervisor(current_app._get_current_object()).start()
    work_until_stopped(worker, burst, with_scheduler)


@rq_cli.command("info")
def info_command():
    """Show how many jobs wait in each queue."""
    for name in QUEUES:
        click.echo(f"{name:12} {len(get_queue(name)):>8} queued")
