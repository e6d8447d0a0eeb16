"""Stored text printed by ``flask`` commands cannot drive the admin's terminal (escape injection):
control characters come out as visible escapes."""
from app.api.keys import issue_key
from app.audit.services import record
from app.core.cli import terminal_safe
from app.core.inputs import escape_controls
from app.testing import make_broadcast, make_user

ATTACK = "x\x1b]0;owned\x07\x1b[2J\u202eevil\x9b"


def test_control_characters_become_visible_escapes():
    assert terminal_safe(ATTACK) == "x\\x1b]0;owned\\x07\\x1b[2J\\u202eevil\\x9b"
    assert terminal_safe("line\nnext\r", keep_newlines=True) == "line\nnext\\x0d"
    assert terminal_safe("Zoë 日本 tab\there") == "Zoë 日本 tab\\x09here"


def test_text_from_outside_is_stored_with_its_controls_visible():
    """What PostgreSQL cannot store (NUL, a lone surrogate) and what drives a terminal comes out
    as visible escapes; the same text always gives the same result, and escaping twice changes
    nothing (an escaped reply written again, an event id compared again)."""
    raw = "5.1.1 no\x00such\ud800 \x1b[2J\u2066x\u2069"
    once = escape_controls(raw)
    assert once == "5.1.1 no\\x00such\\ud800 \\x1b[2J\\u2066x\\u2069"
    assert escape_controls(once) == once and once.encode("utf-8")
    assert escape_controls("plain text, Zoë 日本") == "plain text, Zoë 日本"
    assert escape_controls(None) == "None" and escape_controls(42) == "42"


def test_audit_list_broadcasts_list_and_api_keys_list_print_no_control_characters(db, runner):
    admin = make_user("boss@example.com", super_admin=True)
    record("thing.done", ("thing", 1, ATTACK), ATTACK)
    make_broadcast(subject="Hi").subject = ATTACK  # stored before subjects refused control characters
    issue_key(admin, ATTACK)
    db.session.commit()
    for args in (["audit", "list"], ["broadcasts", "list"], ["api-keys", "list", "--user", admin.email]):
        output = runner.invoke(args=args).output
        assert "\\x1b]0;owned\\x07\\x1b[2J\\u202eevil" in output, args
        assert not any(char in output for char in "\x1b\x07\u202e\x9b"), args


def test_an_argument_that_is_not_utf8_gets_a_usage_error_not_a_traceback(db, runner):
    """A byte the terminal's encoding cannot decode reaches Python as a lone surrogate, which the
    database refuses: every command (here three domains' and a nested group's) says which
    parameter instead of failing with a traceback (second fresh-clone review)."""
    bad = "r\udcff"  # what Python makes of the argument bytes b"r\xff"
    for args in (["audit", "list", "--actor", bad], ["broadcasts", "list", "--label", bad],
                 ["payments", "record", "--customer", "1", "--amount", "5", "--reference", bad]):
        result = runner.invoke(args=args)
        assert result.exit_code == 2 and "not UTF-8 text" in result.output, (args, result.output)
        assert not isinstance(result.exception, UnicodeError) and "Traceback" not in result.output
    assert runner.invoke(args=["audit", "list", "--actor", "root"]).exit_code == 0
