"""Delivery fixtures: small chunks and batches, runs waiting to be planned, and the delivery queue's jobs."""
import pytest
from sqlalchemy import inspect

from app.broadcasts.models import BroadcastRun
from app.core.extensions import db as _db
from app.core.utils import utcnow
from app.mail.suppression import Suppression
from app.testing import make_broadcast, make_customers, make_product

from .scripted_smtp import ScriptedSMTP


@pytest.fixture
def scripted_smtp():
    """A ScriptedSMTP server (tests/delivery/scripted_smtp.py), started; set its script first."""
    server = ScriptedSMTP().start()
    yield server
    server.stop()


@pytest.fixture
def app_config():
    """Small chunks and batches so a few dozen recipients exercise many jobs; short leases."""
    return {"DELIVERY_CHUNK_SIZE": 20, "DELIVERY_BATCH_SIZE": 5, "DELIVERY_LEASE_SECONDS": 2,
            "DELIVERY_JOB_SECONDS": 60, "MAIL_FROM": "Herald Network <noreply@herald.test>"}


def ident(obj) -> int:
    """The primary key of a model instance, even detached after a worker run closed the session."""
    return inspect(obj).identity[0]


def add_customers(emails_and_names, product=None, status="active"):
    """Register customers (members of ``product`` when given); returns them in order."""
    return make_customers(emails_and_names, product, status)


def make_run(customers=(), products=(), subject="Hello {{ customer_name }}",
             body="<p>Hi {{ customer_first_name }}, news for you.</p>", **options):
    """An e-mail broadcast to ``customers`` and ``products`` with a run waiting to be planned: the
    rows ``send_now`` leaves, without its plan_run job (tests enqueue it when they want it run)."""
    broadcast = make_broadcast(None, "email", subject, body, customers, products, commit=False, **options)
    broadcast.status = "sending"
    run = BroadcastRun(broadcast_id=broadcast.id, occurrence_at=utcnow(), status="planning")
    _db.session.add(run)
    _db.session.commit()
    return run


def send_now_to(product, subject="Hi", body="<p>Hello</p>"):
    """A broadcast to ``product``'s customers sent the way the Send button does (``send_now``:
    the run's total is the audience's size), committed; its plan_run job waits in RQ."""
    from app.broadcasts.models import Broadcast, BroadcastTarget
    from app.broadcasts.sending import send_now

    product.mailing_allowed_at = utcnow()
    broadcast = Broadcast(kind="email", subject=subject, body_html=body)
    broadcast.targets.append(BroadcastTarget(product_id=product.id))
    _db.session.add(broadcast)
    _db.session.commit()
    run = send_now(broadcast)
    _db.session.commit()
    return run


def suppress(email, reason):
    """Put ``email`` on the suppression list."""
    _db.session.add(Suppression(email=email, reason=reason, source="test"))
    _db.session.commit()


class DeliveryJobs:
    """The delivery queue's jobs, run for real by the test's worker."""

    def __init__(self, worker):
        self.worker = worker

    def work(self, max_jobs=None):
        """Run the queued delivery jobs in this process (all of them, or ``max_jobs``)."""
        return self.worker.work(queues=("delivery",), max_jobs=max_jobs)

    def start(self, run):
        """Enqueue the run's planning the way ``send_now`` does, and run every job it leads to."""
        from app.core.jobs import enqueue_now
        from app.delivery.jobs import plan_run

        enqueue_now(plan_run, run.id, queue="delivery")
        return self.work()


@pytest.fixture
def jobs(worker):
    """DeliveryJobs: ``jobs.start(run)`` plans and sends a run, ``jobs.work()`` runs what waits."""
    return DeliveryJobs(worker)


@pytest.fixture
def product(app):
    """A product to target (no mailing permission needed: runs are made directly)."""
    return make_product("pro", "Pro")


def fresh_app(url: str, tmp_path, redis_url: str):
    """An app of its own on database ``url`` (for migration tests): the app, its CLI runner and
    ``migrate(*args)``, which runs ``flask db ARGS`` and asserts it succeeded."""
    from app import create_app

    fresh = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url,
                        "INSTANCE_PATH": str(tmp_path), "REDIS_URL": redis_url})
    runner = fresh.test_cli_runner()

    def migrate(*args):
        result = runner.invoke(args=["db", *args])
        assert result.exit_code == 0, result.output
    return fresh, runner, migrate
