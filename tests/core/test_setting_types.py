"""Typed settings: form strings become typed values; bad values and bad defaults are refused."""
import pytest

from app.core.settings.services import SettingSpec, SettingsRegistry
from app.core.settings.types import check, coerce


def spec(kind, default="", **extra):
    return SettingSpec("x.key", default, "Thing", type=kind, **extra)


@pytest.mark.parametrize("kind, raw, expected", [
    ("int", " 42 ", 42), ("float", "2.5", 2.5), ("bool", "on", True), ("bool", "0", False),
    ("str", "  hi ", "hi"), ("email", "A@Example.COM", "A@example.com"),
    ("url", "https://example.com/x", "https://example.com/x"), ("url", "", ""), ("secret", "k", "k"),
])
def test_form_strings_become_typed_values(kind, raw, expected):
    assert coerce(spec(kind), raw) == expected


@pytest.mark.parametrize("setting, raw, message", [
    (spec("int"), "4.5", "Thing must be a whole number."),
    (spec("int", min=1), "0", "Thing must be at least 1."),
    (spec("float", max=1), "1.5", "Thing must be at most 1."),
    (spec("choice", "a", choices=("a", ("b", "Bee"))), "c", "Thing must be one of: a, Bee."),
    (spec("email"), "nope", "Thing is not a valid e-mail address"),
    (spec("url"), "javascript:alert(1)", "Thing must be a full http:// or https:// address."),
    (spec("str", required=True), " ", "Thing is required."),
    (spec("int"), "٣", "Thing must be a whole number."),  # Arabic-Indic 3: int() would read it
    (spec("int"), "1_000", "Thing must be a whole number."),
    (spec("float"), "nan", "Thing must be a number."),
    (spec("float"), "-inf", "Thing must be a number."),
    (spec("float"), "1e309", "Thing must be a finite number"),
    (spec("url"), "https://" + "a" * 5000 + ".example/", "Thing is too long: at most 253 characters"),
])
def test_bad_values_are_refused_with_a_message(setting, raw, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("(", r"\(")):
        coerce(setting, raw)


def test_typed_values_from_code_are_checked_too():
    with pytest.raises(ValueError, match="whole number"):
        check(spec("int"), True)
    with pytest.raises(ValueError, match="on or off"):
        check(spec("bool"), "yes")
    for value in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="finite number"):
            check(spec("float"), value)


def test_declaring_refuses_unknown_types_and_bad_defaults():
    registry = SettingsRegistry()
    with pytest.raises(ValueError, match="unknown type 'colour'"):
        registry.declare(spec("colour"))
    with pytest.raises(ValueError, match="the default is refused: Thing must be at most 3"):
        registry.declare(spec("int", 5, max=3))
    registry.declare(spec("choice", "a", choices=("a", "b")))
    assert registry.owned_by("core")[0].key == "x.key"
