"""The next batch is claimed while the current one is sent (a background transaction of the job),
and a dead job's claim that holds both is settled right: the reaper looks only at the claim's
rows, the batch claimed ahead goes back to the queue, the one message in flight is unknown."""
import json
import threading
import time

from sqlalchemy import select

from app.core.background import Background
from app.delivery import reaper, wal
from app.delivery.chunks import Lease
from app.delivery.models import Delivery, DeliveryClaim
from app.delivery.outcomes import Outcome
from app.delivery.sending import Sender

from .test_claims import _claim, _planned


def _claims(db):
    rows = {c.token: json.loads(c.ids) for c in db.session.scalars(select(DeliveryClaim))}
    db.session.rollback()
    return rows


def test_the_next_batch_is_claimed_while_the_current_one_is_sent(app, db, smtp_sink, product, jobs):
    smtp_sink.delay = 0.05  # 5 messages (a batch) take a quarter of a second
    run_id = _planned(jobs, product, 12)
    seen, errors = [], []

    def send():
        with app.app_context():
            try:
                with Lease() as lease:
                    sender = Sender(run_id, lease.token)
                    try:
                        seen.append(sender.run([Delivery.status == "queued"]))
                    finally:
                        sender.close()
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

    thread = threading.Thread(target=send)
    thread.start()
    held = []
    while thread.is_alive() and len(smtp_sink.messages) < 4:
        held.append(max((len(ids) for ids in _claims(db).values()), default=0))
        time.sleep(0.01)
    thread.join(30)
    assert not errors and seen == ["done"]
    assert max(held) == 10, "batch 1 being sent, batch 2 claimed ahead of it (one claim row)"
    assert sorted(smtp_sink.recipients()) == [f"c{i:02d}@example.com" for i in range(12)]
    assert _claims(db) == {}, "the claim goes with the last outcomes"
    statuses = set(db.session.scalars(select(Delivery.status).where(Delivery.run_id == run_id)))
    assert statuses == {"sent"}


def test_a_dead_claim_holding_a_batch_ahead_is_settled_from_its_record(app, db, product, jobs):
    """The header lists the batch before (outcomes written, no longer claimed), the batch being
    sent and the batch claimed ahead; the claim holds the last two. Rows recorded get their
    outcome, the first of the claim without one is unknown, the batch ahead is queued again."""
    run_id = _planned(jobs, product, 12)
    before = _claim(db, run_id, "other", size=2)  # stands for the batch whose outcomes were written
    current = _claim(db, run_id, "dead", size=5)
    ahead = _claim(db, run_id, "dead-ahead", size=5)
    db.session.execute(DeliveryClaim.__table__.delete().where(DeliveryClaim.token.in_(("other", "dead-ahead"))))
    db.session.execute(DeliveryClaim.__table__.update().where(DeliveryClaim.token == "dead")
                       .values(ids=json.dumps(current + ahead)))
    db.session.commit()
    record = wal.WriteAheadLog("dead")
    record.begin(before + current + ahead)
    email = dict(db.session.execute(select(Delivery.id, Delivery.email)).all())
    record.record([Outcome(i, email[i], "sent", 250, "2.0.0 ok", f"<m{i}@x>") for i in current[:2]])
    record.close()

    assert reaper.settle(run_id, "dead") == 10
    db.session.commit()
    status = dict(db.session.execute(select(Delivery.id, Delivery.status)).all())
    assert [status[i] for i in before] == ["queued", "queued"], "not the claim's: left alone"
    assert [status[i] for i in current] == ["sent", "sent", "unknown", "queued", "queued"]
    assert [status[i] for i in ahead] == ["queued"] * 5
    assert _claims(db) == {}


def test_background_returns_the_value_or_raises_the_error_in_the_caller(app):
    background = Background()
    background.start(lambda a, b: a + b, 2, 3)
    assert background.pending and background.result() == 5 and not background.pending

    def fails():
        raise LookupError("from the thread")
    background.start(fails)
    try:
        background.result()
    except LookupError as error:
        assert str(error) == "from the thread"
    else:
        raise AssertionError("the thread's error must reach the caller")
    assert background.result() is None, "nothing in flight"


def test_the_claim_ahead_also_finds_rows_below_the_batch_being_sent(app, db, product, jobs):
    """Ahead of a batch the claim looks above its last row first; once nothing is left there it
    looks at every row the claim does not hold, so a row another claim gave back meanwhile is
    not left behind (an empty answer ends the chunk)."""
    from app.delivery.claims import Claims, hold
    from app.delivery.outcomes import lock_run

    run_id = _planned(jobs, product, 12)
    gone = _claim(db, run_id, "other", size=2)  # rows 1-2, given back below
    claims = Claims(run_id, "job", 10, False, [Delivery.status == "queued"])
    lock_run(run_id)
    sending = claims.next(hold("job"))
    db.session.commit()
    db.session.execute(DeliveryClaim.__table__.delete().where(DeliveryClaim.token == "other"))
    db.session.commit()
    lock_run(run_id)
    ahead = claims.next(hold("job"), keep=sending, since=claims.claimed_at)
    db.session.commit()
    assert [c.recipient.delivery_id for c in ahead] == gone
    assert _claims(db) == {"job": [c.recipient.delivery_id for c in sending] + gone}


def test_a_batch_cut_short_by_an_error_notes_where_it_stopped(app, db, product, jobs):
    """After an error mid-batch the record is written again with the outcomes held and where
    sending stopped (the first row no transport call may have sent), even when Redis lost it
    meanwhile (restarted empty), so if the job dies before writing its outcomes the reaper
    writes them and queues that row again instead of calling it unknown."""
    from app.delivery.claims import Claimed
    from app.mail.builder import Recipient

    sender = Sender(1, "cut-short")
    sender.batch = [Claimed(Recipient(i, f"r{i}@example.com", i, "R", ""), 1, "queued") for i in (1, 2, 3, 4)]
    sender.wal.begin([1, 2, 3, 4])
    sender.outcomes = [Outcome(1, "r1@example.com", "sent", 250, "2.0.0 ok", "<m1@x>")]
    sender.wal.record(sender.outcomes)
    sender.wal.close()
    assert app.extensions["herald_redis"].delete(wal.wal_key("cut-short")) == 1  # gone with Redis
    sender.position = 1  # row 2's envelope may be out, its content never was (PIPELINING)
    sender._recover()  # no claim of "cut-short" in the ledger: nothing to write there
    sender.wal.close()
    intact, order, flying, recorded = wal.read("cut-short", {1, 2, 3, 4})
    assert intact and order == [1, 2, 3, 4]
    assert set(recorded) == {1} and flying == set(), "row 2 and the rest were never sent"
