"""The ``flask rq`` commands: run a worker (optionally with RQ's scheduler) and show queues."""
import click
from flask import current_app
from flask.cli import AppGroup
from rq import SimpleWorker, Worker

from .extensions import redis_store
from .hooks import do_action
from .jobs import QUEUES, HeraldJob, get_queue

rq_cli = AppGroup("rq", help="Background workers (RQ on Redis).")


def make_worker(queues=QUEUES, simple=False):
    """A worker for this network's queues that runs jobs in the current app."""
    HeraldJob.app = current_app._get_current_object()
    worker_class = SimpleWorker if simple else Worker
    return worker_class([get_queue(name) for name in queues], connection=redis_store.client,
                        job_class=HeraldJob)


@rq_cli.command("worker")
@click.option("--queues", "-q", multiple=True, type=click.Choice(QUEUES),
              help="Queues to listen on (default: all).")
@click.option("--with-scheduler", is_flag=True, help="Also run RQ's scheduler (delayed jobs).")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--simple", is_flag=True, help="Run jobs in this process instead of forking.")
def worker_command(queues, with_scheduler, burst, simple):
    """Run an RQ worker; start more on any machine sharing Redis and the database to scale out."""

    worker = make_worker(queues or QUEUES, simple)
    do_action("worker_starting", worker, with_scheduler and not burst)
    worker.work(burst=burst, with_scheduler=with_scheduler)


@rq_cli.command("info")
def info_command():
    """Show how many jobs wait in each queue."""
    for name in QUEUES:
        click.echo(f"{name:12} {len(get_queue(name)):>8} queued")
