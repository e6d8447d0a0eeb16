"""The write-ahead record read back as the reaper reads it: which row of a dead job's batch may have
been delivered is told by the order of the rows and their outcomes alone (one write per message)."""
import json
import select

from app.delivery import wal
from app.delivery.outcomes import Outcome
from tests.faults import wait_for


def _outcome(row_id: int, status: str = "sent") -> Outcome:
    return Outcome(row_id, f"r{row_id}@example.com", status, 250, "2.0.0 ok", f"<m{row_id}@x>")


def _record(app, token: str, ids, outcomes=(), stopped=None):
    record = wal.WriteAheadLog(token)
    record.begin(ids)
    if outcomes:
        record.record(list(outcomes))
    if stopped is not None:
        record.stopped(stopped)
    record.close()
    return wal.read(token)


def test_the_first_row_without_an_outcome_is_the_one_that_may_have_been_delivered(app):
    intact, order, flying, recorded = _record(app, "t-first", [11, 12, 13, 14], [_outcome(11)])
    assert intact and order == [11, 12, 13, 14] and set(recorded) == {11}
    assert flying == {12}, "the rows after it never had their content sent"


def test_a_refusal_recorded_before_the_previous_reply_does_not_hide_the_message_in_flight(app):
    # Herald refused row 12 itself while row 11's reply was awaited (its outcome came first)
    _, _, flying, recorded = _record(app, "t-refused", [11, 12, 13], [_outcome(12, "failed")])
    assert flying == {11} and set(recorded) == {12}


def test_a_batch_that_stopped_and_was_flushed_has_nothing_in_flight(app):
    _, _, flying, _ = _record(app, "t-stopped", [11, 12, 13, 14], [_outcome(11), _outcome(12)], stopped=13)
    assert flying == set(), "a pause flushed every message handed over: the rest were never sent"


def test_a_finished_batch_and_a_missing_record(app):
    _, _, flying, _ = _record(app, "t-done", [11, 12], [_outcome(11), _outcome(12)])
    assert flying == set()
    intact, order, flying, recorded = wal.read("t-never-written")
    assert not intact and order == [] and flying == set() and recorded == {}



def test_outcomes_of_every_shape_come_back_as_they_were_recorded(app):
    """Read back with the server's text made visible (``escape_controls``): the raw tab (no reply
    holds one now that replies are escaped where they are read; a record of an earlier version
    may) comes back as ``\\x09``."""
    from dataclasses import replace
    from datetime import datetime

    from app.core.inputs import escape_controls

    now = datetime(2026, 12, 1, 13, 5, 7, 123456)
    outcomes = [Outcome(21, "a@example.com", "sent", 250, "250 2.0.0 Ok: queued as 4ABC", "<m21@x>", sent_at=now),
                Outcome(22, "b@example.com", "deferred", 451, '451 4.3.0 "busy"\\ \u00e9\u2028\ttry later', "<m22@x>",
                        next_attempt_at=now),
                Outcome(23, "c@example.com", "failed", 550, "550 5.1.1 no such user", None, rejected=True),
                Outcome(24, "d@example.com", "unknown", None, "outcome unknown", "<m24@x>")]
    _, _, flying, recorded = _record(app, "t-shapes", [21, 22, 23, 24], outcomes)
    assert flying == set()
    for outcome in outcomes:  # the JSON the earlier versions wrote too: their records still read
        fields = [outcome.status, outcome.code, outcome.reply, outcome.message_id,
                  outcome.sent_at and outcome.sent_at.isoformat(),
                  outcome.next_attempt_at and outcome.next_attempt_at.isoformat(), outcome.rejected]
        assert json.loads(recorded[outcome.id]) == fields
        assert json.loads(outcome.to_json()) == fields
        visible = replace(outcome, reply=escape_controls(outcome.reply, keep_newlines=True))  # the tab
        assert Outcome.from_json(outcome.id, outcome.email, recorded[outcome.id]) == visible


def test_committed_outcomes_are_trimmed_and_an_error_among_the_replies_is_raised(app):
    import pytest
    from redis.exceptions import ResponseError

    from app.core.extensions import redis_store

    record = wal.WriteAheadLog("t-trim")
    record.begin([31, 32, 33])
    record.record([_outcome(31), _outcome(32)])
    record.record([_outcome(33)])
    record.settle([_outcome(31), _outcome(33)])  # committed: their entries go, the header stays
    record.close()
    intact, order, _, recorded = wal.read("t-trim")
    assert intact and order == [31, 32, 33] and set(recorded) == {32}

    record = wal.WriteAheadLog("t-wrong")
    record.record([_outcome(41)])  # answered with an integer, read later
    with pytest.raises(ResponseError, match="wrong number of arguments"):
        record.record([])  # an HSET without a field: an error after the integer, raised by the
        record.confirm()  # next record's look at the replies already there (_poll), or here
    record.close()
    record = wal.WriteAheadLog("t-poll")
    record._send(packed=wal.pack("HSET", record.key))  # refused (no field), and not looked at yet
    wait_for(lambda: select.select([record._sock], [], [], 0)[0], 2, what="Redis's reply")
    with pytest.raises(ResponseError, match="wrong number of arguments"):
        record.record([_outcome(43)])  # the next record sees it without waiting for the batch's end
    assert record._sock is None  # the connection is dropped: its replies can no longer be matched
    record.close()
    redis_store.client.set(wal.wal_key("t-wrong"), "not a hash")
    record = wal.WriteAheadLog("t-wrong")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        record.record([_outcome(42)])  # HSET on a string: the first reply is the error
        record.confirm()
    record.close()
