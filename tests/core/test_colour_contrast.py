"""Text colours of app/static/herald.css keep WCAG AA contrast (4.5:1): every rule that sets both a
text colour and a background (badges, buttons, notices, the stepper ...), and each text colour
variable on the page background and on cards. The badges were 4.31:1 (draft, pending, paused)."""
import re
from pathlib import Path

CSS = (Path(__file__).parents[2] / "app" / "static" / "herald.css").read_text()
AA = 4.5
TEXT_VARIABLES = ("--text", "--muted", "--primary", "--primary-dark", "--danger", "--info", "--success",
                  "--warning", "--error")


def variables() -> dict:
    root = re.search(r":root\s*{([^}]*)}", CSS).group(1)
    pairs = re.findall(r"(--[\w-]+)\s*:\s*(#[0-9a-fA-F]{3,6})\b", root)
    return {name: colour(value, {}) for name, value in pairs}


def colour(value: str, names: dict) -> str | None:
    """A declaration's value as #rrggbb, or None when it is not one plain colour."""
    value = value.strip()
    match = re.fullmatch(r"var\((--[\w-]+)\)", value)
    value = names.get(match.group(1), "") if match else value
    if re.fullmatch(r"#[0-9a-fA-F]{3}", value):
        value = "#" + "".join(c * 2 for c in value[1:])
    return value.lower() if re.fullmatch(r"#[0-9a-fA-F]{6}", value) else None


def luminance(hex_colour: str) -> float:
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def ratio(one: str, other: str) -> float:
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def coloured_rules(names):
    """(selector, text colour, background) of each rule that sets both as plain colours."""
    for selector, body in re.findall(r"([^{}]+){([^{}]*)}", re.sub(r"/\*.*?\*/", "", CSS, flags=re.S)):
        declarations = dict((k.strip(), v) for k, v in re.findall(r"([\w-]+)\s*:\s*([^;]+)", body))
        text = colour(declarations.get("color", ""), names)
        background = colour(declarations.get("background-color", declarations.get("background", "")), names)
        if text and background:
            yield selector.strip(), text, background


def test_the_ratio_is_computed_as_wcag_says():
    assert round(ratio("#000000", "#ffffff"), 1) == 21.0
    assert round(ratio("#b35c00", "#fff3e0"), 2) == 4.31  # the warning badge as the review found it


def test_every_rule_with_text_on_a_background_reaches_aa():
    names = variables()
    rules = list(coloured_rules(names))
    assert any(".badge-draft" in selector for selector, _, _ in rules)  # the parser sees the badges
    low = [(selector, text, background, round(ratio(text, background), 2))
           for selector, text, background in rules if ratio(text, background) < AA]
    assert not low


def test_text_colours_reach_aa_on_the_page_and_on_cards():
    names = variables()
    low = [(name, surface, round(ratio(names[name], names[surface]), 2))
           for name in TEXT_VARIABLES for surface in ("--bg", "--surface")
           if ratio(names[name], names[surface]) < AA]
    assert not low
