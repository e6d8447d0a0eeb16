"""Jobs are enqueued only after the commit, run in an app context, and use prefixed queues."""
from app.core.extensions import db
from app.core.jobs import enqueue_after_commit, get_queue, queue_name
from app.core.settings.models import Option
from app.core.worker import make_worker


def record_option(key, value):
    """A job used by these tests: writes an Option (needs an app context and the DB)."""
    db.session.add(Option(key=key, value=value))
    db.session.commit()


def test_job_is_enqueued_after_commit_and_dropped_on_rollback(app):
    queue = get_queue("default")
    enqueue_after_commit(record_option, "a", 1)
    assert queue.count == 0
    db.session.rollback()
    assert queue.count == 0
    enqueue_after_commit(record_option, "b", 2)
    db.session.add(Option(key="marker", value=True))
    db.session.commit()
    assert queue.count == 1


def test_worker_runs_jobs_inside_an_app_context(app):
    enqueue_after_commit(record_option, "from-job", {"ok": True})
    db.session.commit()
    make_worker(queues=("default",), simple=True).work(burst=True)
    db.session.expire_all()
    assert db.session.get(Option, "from-job").value == {"ok": True}


def test_queue_names_carry_the_network_prefix(app):
    assert queue_name("delivery") == "herald-test:delivery"
    assert get_queue("emails").name == "herald-test:emails"


def test_importing_jobs_module_builds_no_app():
    import subprocess
    import sys

    code = ("import flask, app.core.jobs, app.core.worker; "
            "assert flask.current_app is None or not flask.has_app_context(); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_jobs_of_a_rolled_back_savepoint_are_dropped_but_outer_ones_kept(app):
    queue = get_queue("default")
    enqueue_after_commit(record_option, "outer", 1)
    savepoint = db.session.begin_nested()
    enqueue_after_commit(record_option, "inner", 2)
    savepoint.rollback()
    kept = db.session.begin_nested()
    enqueue_after_commit(record_option, "inner-kept", 3)
    kept.commit()
    db.session.commit()
    assert [job.args[0] for job in queue.get_jobs()] == ["outer", "inner-kept"]
