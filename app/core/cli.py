"""Helpers for the CLI commands of every domain."""
import functools

import click

from .inputs import MAX_ID, clean_text, escape_controls, parse_id
from .utils import get_row


class RowId(click.ParamType):
    """A row's id on the command line (``type=ROW_ID``): a whole number from 1 to ``MAX_ID``
    (PostgreSQL ``integer``), else a usage error naming the parameter and the range (exit 2),
    never a database error."""
    name = "id"

    def convert(self, value, param, ctx):
        """``value`` (text from argv, or an int default) as an int; ``self.fail`` otherwise."""
        try:
            return parse_id(value if isinstance(value, int) else str(value).strip(), "An id")
        except ValueError:
            self.fail(f"{str(value)[:40]!r} is not an id: ids are whole numbers from 1 to {MAX_ID:,}.",
                      param, ctx)


ROW_ID = RowId()


def fetch_or_fail(model, ident, label: str):
    """The ``model`` row with primary key ``ident``, or a ClickException saying there is none
    (``ident`` not an id at all included: ``utils.get_row``)."""
    row = get_row(model, ident)
    if row is None:
        raise click.ClickException(f"There is no {label} {ident}.")
    return row


def terminal_safe(text, keep_newlines: bool = False) -> str:
    """``text`` (any value, made a str) with every control character written as a visible escape
    (``\\x1b``, ``\\u202e``), so stored text cannot move the cursor, recolour, retitle or
    rewrite the admin's terminal; ``keep_newlines`` keeps line feeds (tracebacks). The rule is
    ``inputs.escape_controls``'s, which stored text from outside goes through too."""
    return escape_controls(text, keep_newlines)


def echo_safe(text, keep_newlines: bool = False, **options) -> None:
    """``click.echo`` of a line that holds stored or outside text, through ``terminal_safe``."""
    click.echo(terminal_safe(text, keep_newlines), **options)


def refuse_undecodable_arguments(group: click.Group) -> None:
    """Make every command under ``group`` answer an argument or option holding a byte the
    terminal's encoding cannot decode (Python keeps it as a lone surrogate, which no database
    and no UTF-8 stores) with a usage error naming the parameter, instead of a traceback when
    the value reaches the database."""
    for command in list(group.commands.values()):
        if isinstance(command, click.Group):
            refuse_undecodable_arguments(command)
        elif command.callback is not None and not getattr(command.callback, "checks_text", False):
            command.callback = _checked(command.callback)


def _checked(callback):
    @functools.wraps(callback)
    def checked(*args, **kwargs):
        for name, value in kwargs.items():
            for item in value if isinstance(value, (list, tuple)) else (value,):
                try:  # a byte of argv Python cannot decode is kept as a lone surrogate
                    if isinstance(item, str):
                        clean_text(item)
                except ValueError:
                    raise click.BadParameter("holds a byte that is not UTF-8 text; type it again in UTF-8.",
                                             param_hint=f"'{name.replace('_', '-')}'") from None
        return callback(*args, **kwargs)
    checked.checks_text = True
    return checked


class FiniteRange(click.FloatRange):
    """``click.FloatRange`` that also refuses NaN (which compares false with both bounds, so the
    range alone lets it through): ``--interval nan`` is a usage error, not a traceback later."""

    name = "finite float range"

    def convert(self, value, param, ctx):
        """The value as a float within the bounds; a usage error (exit 2) otherwise."""
        number = super().convert(value, param, ctx)
        if number != number:  # NaN is the one float unequal to itself
            self.fail(f"{value!r} is not a number.", param, ctx)
        return number
