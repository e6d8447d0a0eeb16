"""The scheduler with a controlled clock: each kind fires once per occurrence, DST, grace, races."""
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.broadcasts.models import BroadcastRun
from app.broadcasts.notices import live_notices
from app.core.extensions import db
from app.core.jobs import get_queue
from app.scheduling.rules import RuleSpec
from app.scheduling.scheduler import run_due
from app.scheduling.services import change_state, save_schedule
from app.core.settings.services import set_option
from tests.scheduling.conftest import at


def schedule(broadcast, spec, now):
    """Schedule ``broadcast`` with ``spec`` as of ``now`` (what the wizard's Schedule does)."""
    save_schedule(broadcast, spec, now=now)
    broadcast.status = "scheduled"
    db.session.commit()


def runs(broadcast):
    return db.session.scalars(select(BroadcastRun).where(BroadcastRun.broadcast_id == broadcast.id)
                              .order_by(BroadcastRun.occurrence_at)).all()


def test_once_fires_exactly_once_and_hands_the_email_to_delivery(make_broadcast):
    broadcast = make_broadcast("email")
    schedule(broadcast, RuleSpec("once", "Europe/Amsterdam", at(2030, 5, 1, 9, 0)), at(2030, 4, 1))
    assert run_due(now=at(2030, 5, 1, 6, 59)).fired == 0
    assert run_due(now=at(2030, 5, 1, 7, 0, 5)).fired == 1  # 09:00 CEST
    assert run_due(now=at(2030, 5, 1, 7, 1)).fired == 0
    (run,) = runs(broadcast)
    assert run.occurrence_at == at(2030, 5, 1, 7, 0) and run.status == "planning"
    assert broadcast.status == "sending" and broadcast.schedule.status == "ended"
    assert len(get_queue("delivery").job_ids) == 1


def test_daily_notice_keeps_0900_across_dst_and_each_run_is_new_for_everyone(make_broadcast, network):
    broadcast = make_broadcast("notice")
    schedule(broadcast, RuleSpec("daily", "Europe/Amsterdam", at(2026, 3, 28, 9, 0), count=3),
             at(2026, 3, 27))
    ann_user = network.ann.user.id
    for day, hour in ((28, 8), (29, 7), (30, 7)):  # 09:00 CET is 08:00 UTC, 09:00 CEST 07:00 UTC
        assert run_due(now=at(2026, 3, day, hour, 30)).fired == 1
        notices = live_notices(network.ann, ann_user)
        assert [n.run_id for n in notices] == [runs(broadcast)[-1].id]  # the new run replaces the old
        if day == 28:  # dismissed on the first day, yet the next run is shown again
            from app.broadcasts.notices import dismiss
            dismiss(network.ann, network.ann.user, notices[0].run_id)
            db.session.commit()
            assert live_notices(network.ann, ann_user) == []
    assert [r.occurrence_at for r in runs(broadcast)] == [
        at(2026, 3, 28, 8), at(2026, 3, 29, 7), at(2026, 3, 30, 7)]
    assert broadcast.schedule.status == "ended" and broadcast.status == "sent"


def test_weekly_new_york_across_the_autumn_change(make_broadcast):
    broadcast = make_broadcast("notice")
    schedule(broadcast, RuleSpec("weekly", "America/New_York", at(2026, 10, 26, 17), weekdays=(0,)),
             at(2026, 10, 25))
    run_due(now=at(2026, 10, 27))
    run_due(now=at(2026, 11, 3))
    assert [r.occurrence_at for r in runs(broadcast)] == [at(2026, 10, 26, 21), at(2026, 11, 2, 22)]


def test_missed_occurrences_outside_the_grace_window_are_skipped_not_sent_late(make_broadcast):
    broadcast = make_broadcast("notice")
    set_option("scheduling.grace_minutes", 90)
    schedule(broadcast, RuleSpec("rrule", "UTC", None,
                                 rrule_text="DTSTART:20300101T080000\nFREQ=HOURLY;INTERVAL=1"), at(2030, 1, 1))
    result = run_due(now=at(2030, 1, 1, 11, 30))  # down since before 08:00
    assert (result.fired, result.skipped) == (2, 2)  # 10:00 and 11:00 fired; 08:00 and 09:00 skipped
    statuses = {r.occurrence_at.hour: r.status for r in runs(broadcast)}
    assert statuses == {8: "skipped", 9: "skipped", 10: "published", 11: "published"}
    assert "grace window" in runs(broadcast)[0].status_reason


@pytest.mark.committed  # threads with their own sessions must see the draft
def test_two_schedulers_racing_start_one_run_per_occurrence(app, make_broadcast):
    broadcast = make_broadcast("notice")
    schedule(broadcast, RuleSpec("daily", "UTC", at(2030, 1, 1, 9)), at(2030, 1, 1))
    results, barrier = [], threading.Barrier(2)

    def scheduler():
        with app.app_context():
            barrier.wait()
            results.append(run_due(now=at(2030, 1, 3, 9, 30)))
            db.session.remove()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.expire_all()
    assert sum(r.fired for r in results) == 1 and sum(r.skipped for r in results) == 2
    assert db.session.scalar(select(func.count()).select_from(BroadcastRun)
                             .where(BroadcastRun.broadcast_id == broadcast.id)) == 3


def test_editing_a_live_schedule_changes_only_future_occurrences(make_broadcast):
    broadcast = make_broadcast("notice")
    schedule(broadcast, RuleSpec("daily", "UTC", at(2030, 1, 1, 9)), at(2030, 1, 1))
    run_due(now=at(2030, 1, 2, 10))
    save_schedule(broadcast, RuleSpec("weekly", "UTC", at(2030, 1, 1, 18), weekdays=(4,)),
                  now=at(2030, 1, 2, 10))
    db.session.commit()
    run_due(now=at(2030, 1, 12))
    assert [r.occurrence_at for r in runs(broadcast)] == [
        at(2030, 1, 1, 9), at(2030, 1, 2, 9), at(2030, 1, 4, 18), at(2030, 1, 11, 18)]


def test_pause_resume_and_end(make_broadcast):
    broadcast = make_broadcast("notice")
    schedule(broadcast, RuleSpec("daily", "UTC", at(2030, 1, 1, 9)), at(2030, 1, 1))
    change_state(broadcast, "pause")
    db.session.commit()
    assert run_due(now=at(2030, 1, 3)).fired == 0 and broadcast.status == "paused"
    change_state(broadcast, "resume", now=at(2030, 1, 3))
    db.session.commit()
    assert run_due(now=at(2030, 1, 3, 10)).fired == 1  # the paused days are not caught up
    change_state(broadcast, "end")
    db.session.commit()
    assert run_due(now=at(2030, 2, 1)).fired == 0
    assert broadcast.status == "sent" and broadcast.schedule.next_at is None
    assert len(runs(broadcast)) == 1


def test_until_date_ends_the_schedule(make_broadcast):
    broadcast = make_broadcast("notice")
    schedule(broadcast, RuleSpec("daily", "UTC", at(2030, 1, 1, 9), until=date(2030, 1, 2)), at(2030, 1, 1))
    run_due(now=at(2030, 1, 5))
    assert len(runs(broadcast)) == 2 and broadcast.schedule.status == "ended"
    assert broadcast.schedule.next_at is None
    assert timedelta(0) < at(2030, 1, 5) - runs(broadcast)[-1].occurrence_at
