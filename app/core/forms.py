"""Helpers every domain's forms share: choices and the field of a row's number."""
from wtforms import IntegerField, ValidationError
from wtforms.fields.choices import SelectChoice

from .inputs import MAX_ID


def choices(items) -> list[SelectChoice]:
    """SelectField choices from a {value: label} mapping, (value, label) pairs, or plain values."""
    pairs = items.items() if isinstance(items, dict) else (
        item if isinstance(item, tuple) else (item, item) for item in items)
    return [SelectChoice(value, label) for value, label in pairs]


class IdField(IntegerField):
    """A row's number typed in a form (a customer, a site, a membership): a whole number from 1
    to ``inputs.MAX_ID``, else an error on the field (before its validators), so a number no
    ``integer`` column holds never reaches PostgreSQL. Empty is None (add ``Optional()``)."""

    def pre_validate(self, form):
        """ValidationError when the parsed number is out of range."""
        if self.data is not None and not 1 <= self.data <= MAX_ID:
            raise ValidationError(f"There is no such number: numbers run from 1 to {MAX_ID:,}.")
