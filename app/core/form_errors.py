"""The errors of the forms a page shows, for its title ("Error: ...") and its error summary.

A page's forms are the WTForms forms in its template context (``form``, ``add_form`` ...); a page
that checks its fields by hand (the settings pages) passes ``field_problems``, a list of
``FieldProblem``. base.html starts the title with "Error: " when there is any error, and the
layouts show ``error_summary`` (macros/forms.html) with a link to each field in error.
"""
from typing import NamedTuple

from jinja2 import pass_context
from wtforms import Form
from wtforms.fields import HiddenField
from wtforms.widgets import ListWidget


class FieldProblem(NamedTuple):
    """One field's error: its label, the message and the id of the element to go to (or None)."""
    label: str
    message: str
    target: str | None


def _target(field, targets: dict) -> str | None:
    if field.name in targets:
        return targets[field.name]
    if isinstance(field, HiddenField):
        return None
    if isinstance(field.widget, ListWidget):  # radio buttons, checkboxes: the first option
        return f"{field.id}-0"
    return field.id


def _messages(errors):
    for error in errors:
        if isinstance(error, (list, tuple)):
            yield from _messages(error)
        elif isinstance(error, dict):
            yield from _messages(error.values())
        else:
            yield str(error)


def problems_of(form: Form) -> list[FieldProblem]:
    """The field errors of ``form`` in the order of its fields (its CSRF field's left out: the
    pages say that one in words of their own). A field the page draws by hand, without an
    element of its id, is linked to the element ``form.error_targets`` names for it (its search
    box, its first checkbox): every link of the summary goes to an element of the page."""
    targets = getattr(form, "error_targets", None) or {}
    return [FieldProblem(str(field.label.text), message, _target(field, targets))
            for field in form if field.errors and field.type != "CSRFTokenField"
            for message in _messages(field.errors)]


@pass_context
def page_problems(context) -> list[FieldProblem]:
    """Every field error of the page's forms and its ``field_problems``."""
    found = []
    for value in context.get_all().values():
        if isinstance(value, Form):
            found.extend(problems_of(value))
    return found + list(context.get("field_problems") or ())


@pass_context
def page_has_errors(context) -> bool:
    """True when a form of the page has an error: a field's, the form's own, an expired token."""
    forms = [value for value in context.get_all().values() if isinstance(value, Form)]
    return bool(page_problems(context) or any(form.errors for form in forms))
