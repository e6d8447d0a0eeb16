"""Every input gets an answer that says what is wrong: out-of-range numbers say their range, a
wrong JSON type names the type, a body that is not JSON answers 415, and a customer's name with
a control character (NUL, CR, LF …) is refused wherever customers are made."""
import pytest

from app.api.openapi import SPEC
from app.broadcasts.models import KINDS, STATUSES
from app.core.extensions import db
from app.core.inputs import MAX_ID, clean_name, whole_number
from app.network.cli import FIRST, LAST
from app.network.services import register_customer
from tests.broadcasts.test_content_limits import api  # noqa: F401 - the fixture

HUGE = "99999999999999999999"


@pytest.mark.parametrize("query", [f"after={HUGE}", "after=-1", "limit=-1", "limit=0", f"limit={HUGE}",
                                   f"limit=-{HUGE}", "limit=+500"])
def test_out_of_range_pagination_says_its_range(api, query):  # noqa: F811
    answer = api("GET", f"/broadcasts?{query}")
    assert answer.status_code == 400 and "must be between" in answer.get_json()["error"], query


def test_whole_numbers_name_their_range_without_building_huge_ints():
    with pytest.raises(ValueError, match=f"between 1 and {MAX_ID:,}"):
        whole_number("9" * 100_000, "An id", 1, MAX_ID)
    with pytest.raises(ValueError, match="must be a whole number"):
        whole_number("1e3", "An id")


@pytest.mark.parametrize("kind, words", [(5, "(got a number)"), (True, "(got true/false)"),
                                         (["email"], "(got a list)"), ("letter", "(got 'letter')"),
                                         (None, "(got null)")])
def test_a_wrong_kind_says_what_is_wrong_with_it(api, kind, words):  # noqa: F811
    answer = api("POST", "/broadcasts", json={"kind": kind})
    assert answer.status_code == 400 and words in answer.get_json()["fields"]["kind"]
    missing = api("POST", "/broadcasts", json={"subject": "Hi"})
    assert missing.get_json()["fields"]["kind"].startswith("Required")


@pytest.mark.parametrize("labels, words", [([None], "(got null)"), (["news", 7], "(got a number)"),
                                           ([["news"]], "(got a list)")])
def test_a_label_that_is_not_text_is_refused_not_left_out(api, labels, words):  # noqa: F811
    """[null] made a draft with no label at all (review d: a wrong JSON type is said, never dropped)."""
    answer = api("POST", "/broadcasts", json={"kind": "notice", "labels": labels})
    assert answer.status_code == 400 and words in answer.get_json()["fields"]["labels"]


@pytest.mark.parametrize("labels, words", [("news", "Must be a list of text (got text)"),
                                           ({"a": "news"}, "(got an object)"), (None, "(got null)"),
                                           ([""], "empty or blank"), (["news", " "], "empty or blank")])
def test_labels_that_are_not_a_list_of_labels_are_refused(api, labels, words):  # noqa: F811
    """"news" was stored as ["news"], and [""] or [" "] made a draft with no label (review f, item 8):
    the API's lists refuse what is no item (as customer_ids and product_statuses do), on create
    and on update alike, and the draft keeps its labels."""
    answer = api("POST", "/broadcasts", json={"kind": "notice", "labels": labels})
    assert answer.status_code == 400 and words in answer.get_json()["fields"]["labels"], answer.get_json()
    created = api("POST", "/broadcasts", json={"kind": "notice", "labels": ["ops"]}).get_json()
    answer = api("PATCH", f"/broadcasts/{created['id']}", json={"labels": labels})
    assert answer.status_code == 400 and words in answer.get_json()["fields"]["labels"]
    assert api("GET", f"/broadcasts/{created['id']}").get_json()["labels"] == ["ops"]


def test_a_time_zone_of_the_wrong_type_gets_a_short_message(api):  # noqa: F811
    answer = api("POST", "/broadcasts", json={"kind": "notice", "timezone": ["Europe/Amsterdam"] * 10_000})
    assert answer.status_code == 400 and len(answer.get_json()["fields"]["timezone"]) < 200


def test_a_body_that_is_not_json_answers_415(api):  # noqa: F811
    created = api("POST", "/broadcasts", json={"kind": "email"}).get_json()
    for method, path in (("POST", "/broadcasts"), ("PATCH", f"/broadcasts/{created['id']}"),
                         ("PUT", f"/broadcasts/{created['id']}/schedule"),
                         ("POST", f"/broadcasts/{created['id']}/send")):
        answer = api(method, path, data='{"kind": "email"}', content_type="text/plain")
        assert answer.status_code == 415, (method, path, answer.status_code)
        assert "Content-Type: application/json" in answer.get_json()["error"]
    for content_type in ("application/json; charset=utf-8", None):  # none at all: read as JSON
        assert api("POST", "/broadcasts", data='{"kind": "email"}', content_type=content_type).status_code == 201


@pytest.mark.parametrize("name", ["Ann\x00", "Ann\r\nBcc: x@example.com", "Ann\nLee", "Ann\x1b[31m",
                                  "Ann\u2028Lee", "Ann\x85", "Ann\tLee", "Ann\u2066Lee\u2069"])
def test_a_customer_name_with_a_control_character_is_refused(app, name):
    with pytest.raises(ValueError, match="not allowed"):
        register_customer("ctl@example.com", name)
    db.session.rollback()
    assert register_customer("ok@example.com", " Ann Lee").name == " Ann Lee"  # spaces are no control


def test_demo_names_pass_the_same_rule():
    assert all(clean_name(part) == part for part in (*FIRST, *LAST))


@pytest.mark.parametrize("query, words", [
    ("status=bogus", "'status' must be one of: draft, scheduled, sending, sent, paused, cancelled, failed (got 'bogus')"),
    ("status=canceled", "(got 'canceled')"), ("kind=bogus", "'kind' must be one of: notice, email"),
    ("kind=Email", "(got 'Email')"), ("stauts=sent", "Unknown query argument 'stauts'; this list takes: kind, status"),
    ("status=draft&status=sent", "'status' is given 2 times")])
def test_a_list_filter_it_does_not_know_is_a_400_naming_it(api, query, words):  # noqa: F811
    answer = api("GET", f"/broadcasts?{query}")
    assert answer.status_code == 400 and words in answer.get_json()["error"], answer.get_json()


def test_known_list_filters_still_filter_and_every_list_checks_its_arguments(api):  # noqa: F811
    draft = api("POST", "/broadcasts", json={"kind": "email"}).get_json()
    for query in ("status=draft", "status=", "kind=email&status=draft&label=&q=&limit=5"):
        answer = api("GET", f"/broadcasts?{query}")
        assert answer.status_code == 200 and [b["id"] for b in answer.get_json()["broadcasts"]] == [draft["id"]]
    assert api("GET", "/broadcasts?status=sent").get_json()["broadcasts"] == []
    for path in ("/customers", "/products"):
        assert api("GET", f"{path}?q=a&limit=5&after=1").status_code == 200
        answer = api("GET", f"{path}?status=active")
        assert answer.status_code == 400 and "this list takes: q, after, limit" in answer.get_json()["error"]


def test_the_description_lists_the_filters_choices():
    params = {p["name"]: p["schema"] for p in SPEC["paths"]["/broadcasts"]["get"]["parameters"]}
    assert params["kind"]["enum"] == list(KINDS) and params["status"]["enum"] == list(STATUSES)
