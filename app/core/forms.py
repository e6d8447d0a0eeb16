"""Helpers every domain's forms share."""
from wtforms.fields.choices import SelectChoice


def choices(items) -> list[SelectChoice]:
    """SelectField choices from a {value: label} mapping, (value, label) pairs, or plain values."""
    pairs = items.items() if isinstance(items, dict) else (
        item if isinstance(item, tuple) else (item, item) for item in items)
    return [SelectChoice(value, label) for value, label in pairs]
