"""The network-wide rate limit: exact parsing, settings validation, and pacing shared by workers."""
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.settings.services import set_option
from app.delivery.ratelimit import Rate, RateLimiter, parse_rate
from app.testing import csrf_token

from .conftest import add_customers, make_run


@pytest.mark.parametrize("text, expected", [
    ("14/s", Rate(14, 1)), ("30/min", Rate(30, 60)), ("10000/h", Rate(10000, 3600)),
    ("2 per second", Rate(2, 1)), ("5/minutes", Rate(5, 60)), ("0.5/s", Rate(0.5, 1)), ("", None),
])
def test_parse_rate(text, expected):
    assert parse_rate(text) == expected


@pytest.mark.parametrize("text", ["fast", "14/fortnight", "-3/s", "/s", "0/s", "0", "0.0", "00", "999999999999999999999/s",
                                  "0.0000001/s", "200000/s", "0.5/day", "\u0663/s", "1e6/h", "inf/s"])
def test_parse_rate_rejects_nonsense(text):
    with pytest.raises(ValueError):
        parse_rate(text)


@given(count=st.decimals(min_value="0.000001", max_value="999999999999", places=6),
       unit=st.sampled_from(["s", "min", "h", "day", ""]), period=st.sampled_from([1, 3600]))
@settings(max_examples=300, deadline=None)
def test_a_rate_is_refused_with_a_message_or_read_back_as_it_was_stored(count, unit, period):
    """Every stored rate reads back to itself (1000000/h was stored as 1e+06/h and then refused)."""
    text = f"{count}/{unit}" if unit else str(count)
    try:
        rate = parse_rate(text, period)
    except ValueError as error:
        assert "out of range" in str(error) or "is not a rate" in str(error)
        return
    assert "e" not in str(rate).split("/")[0] and parse_rate(str(rate), period) == rate


@pytest.mark.parametrize("text, stored", [("1000000/h", "1000000/h"), ("123456789/day", "123456789/day"),
                                          ("100000/s", "100000/s"), ("1/day", "1/day")])
def test_large_and_small_rates_save_from_the_settings_page(admin_client, text, stored):
    from app.core.settings.services import get_option
    token = csrf_token(admin_client, "/network/settings/")
    answer = admin_client.post("/network/settings/", data={"csrf_token": token, "delivery.rate_per_hour": text})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    assert get_option("delivery.rate_per_hour") == stored


def test_settings_page_validates_and_normalises_rates(app, admin_client):
    token = csrf_token(admin_client, "/network/settings/")
    form = {"csrf_token": token, "delivery.rate_per_second": "fast", "delivery.rate_per_hour": "",
            "delivery.max_attempts": "5", "delivery.retry_base_seconds": "60",
            "delivery.pause_after_failures": "50"}
    response = admin_client.post("/network/settings/", data=form)
    assert response.status_code == 400 and b"is not a rate" in response.data
    form["delivery.rate_per_second"] = "30 per minute"
    assert admin_client.post("/network/settings/", data=form).status_code == 302
    from app.core.settings.services import get_option
    assert get_option("delivery.rate_per_second") == "30/min"


@pytest.mark.parametrize("key", ["delivery.rate_per_second", "delivery.rate_per_hour"])
def test_a_rate_of_zero_is_refused_on_the_settings_page(app, admin_client, key):
    """"0" was saved and meant no limit, while "0/s" was refused and the help says "Empty: no
    limit": zero is refused like any other rate that is not more than zero."""
    from app.core.settings.services import get_option
    token = csrf_token(admin_client, "/network/settings/")
    response = admin_client.post("/network/settings/", data={"csrf_token": token, key: "0"})
    assert response.status_code == 400 and b"more than zero" in response.data
    assert get_option(key) == ""


def test_two_workers_share_one_exact_limit(app, redis_client):
    limiters = [RateLimiter({"second": Rate(20, 1)}), RateLimiter({"second": Rate(20, 1)})]
    stamps, lock = [], threading.Lock()

    def worker(limiter):
        for left in range(15, 0, -1):
            limiter.wait(left)
            with lock:
                stamps.append(time.monotonic())
    threads = [threading.Thread(target=worker, args=(limiter,)) for limiter in limiters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stamps.sort()
    assert stamps[-1] - stamps[0] >= 29 / 20 * 0.95  # 30 sends at 20/s need 1.45 s
    assert all(stamps[i + 20] - stamps[i] >= 0.95 for i in range(len(stamps) - 20))  # never 21 in 1 s


def test_broadcast_is_sent_at_the_configured_rate(app, db, smtp_sink, product, jobs):
    set_option("delivery.rate_per_second", "25/s")
    db.session.commit()
    add_customers([(f"rate{i:02d}@example.com", "R") for i in range(30)], product)
    run = make_run(products=[product])
    jobs.start(run)
    stamps = [m.at for m in smtp_sink.messages]
    assert len(stamps) == 30
    assert stamps[-1] - stamps[0] >= 29 / 25 * 0.9
    assert all(stamps[i + 25] - stamps[i] >= 0.9 for i in range(len(stamps) - 25))


def test_with_a_rate_limit_each_message_is_finished_before_the_wait(app, db, scripted_smtp, product, jobs):
    """Pipelining puts a message's end in the same write as the next envelope; while the limit
    makes the loop wait, the message is flushed first (a server would time out a DATA left open
    for minutes at a slow rate, and the message would be late by one slot)."""
    app.config["SMTP_URL"] = scripted_smtp.url
    set_option("delivery.rate_per_second", "10/s")
    db.session.commit()
    add_customers([(f"slow{i}@example.com", "S") for i in range(4)], product)
    run = make_run(products=[product])
    jobs.start(run)
    assert len(scripted_smtp.received) == 4
    writes = [chunk for _, chunk in scripted_smtp.reads]
    assert not any(b"\r\n.\r\n" in chunk and b"MAIL FROM" in chunk for chunk in writes)


def test_a_changed_rate_is_obeyed_at_once_by_new_and_by_waiting_senders(app, redis_client, monkeypatch):
    """Review 14b: after 1/h, slots stayed reserved an hour ahead; changing the setting to 100/s
    left a new run at 0 sent, and a waiting one asleep until a pause and resume."""
    import app.delivery.ratelimit as ratelimit
    slow = RateLimiter({"second": parse_rate("1/h")})
    assert slow.wait() is True  # the first slot is now; the next an hour ahead
    fast = RateLimiter({"second": parse_rate("100/s")})
    started = time.monotonic()
    assert fast.wait() and fast.wait() and time.monotonic() - started < 5  # not behind the 1/h slot
    monkeypatch.setattr(ratelimit, "RECHECK", 0.2)
    setting = {"second": parse_rate("2/h")}  # its own key: the first slot is now
    waiting = RateLimiter(dict(setting), current=lambda: dict(setting))
    assert waiting.wait() is True
    done = threading.Event()
    ctx = app.app_context()

    def second_message():
        with ctx:
            done.set() if waiting.wait() else None
    thread = threading.Thread(target=second_message, daemon=True)
    thread.start()
    time.sleep(0.5)
    assert not done.is_set()  # waiting for the slot an hour ahead
    setting["second"] = parse_rate("100/s")  # the admin saves a faster rate
    thread.join(timeout=10)
    assert done.is_set()


def test_a_lower_or_new_rate_holds_from_the_next_message_whatever_the_wait(app, redis_client, monkeypatch):
    """Review 14c: going from 1/s to 1/min mid-run, the waits (under 5 s) never reread the
    settings; with no limit at the start, a limit set later was never read."""
    import app.delivery.ratelimit as ratelimit
    monkeypatch.setattr(ratelimit, "RECHECK", 0.0)
    setting = {"second": None}
    limiter = RateLimiter(dict(setting), current=lambda: dict(setting))
    assert limiter.wait() and limiter.wait()  # no limit: at once
    setting["second"] = parse_rate("3/h")  # set while the run sends: the next slots are 20 minutes apart
    assert limiter.wait() is True  # the first slot under the new rate
    stopped_at = time.monotonic()
    assert limiter.wait(stop=lambda: time.monotonic() - stopped_at > 0.5) is False  # waits for the next
