"""The filters of the system-email sandbox, guarded: a step counted per call (and per item for
filters that run code per item), their input and result sizes accounted, and their errors
named after the filter (``FilterFailed``); used by ``sandbox.BoundedSandbox``."""
from functools import wraps

from jinja2.exceptions import TemplateError, TemplateRuntimeError
from jinja2.runtime import Undefined
from rq.timeouts import JobTimeoutException

from .budget import (
    FILTER_TEXT,
    ITEM_FILTERS,
    MAX_TEXT,
    LimitExceeded,
    bounded_list,
    bounded_loop,
    budget,
    check_numbers,
    joined_size,
    percent_size,
    replace_size,
    text_size,
)

LAZY_FILTERS = frozenset({"select", "reject", "selectattr", "rejectattr", "map"})  # they return generators


def guarded_filter(name, func):
    """``func`` (a filter) with a step counted, numbers and input size capped, the checks of
    filters that can multiply their input made first, and the result's size accounted."""
    passes = getattr(func, "jinja_pass_arg", None) is not None

    @wraps(func)
    def guarded(*args, **kwargs):
        spend = budget()
        spend.tick()
        values = list(args[1:] if passes else args)
        given = values[0] if values else None
        try:
            if values:
                size = text_size(values[0])
                spend.fits(size)
                if size > FILTER_TEXT.get(name, MAX_TEXT):  # Python code per character
                    raise LimitExceeded(f"the filter '{name}' takes at most {FILTER_TEXT[name]:,} characters")
                check_numbers(values[1:], kwargs)
                values[0] = _FILTER_CHECKS.get(name, _no_check)(spend, *values, **kwargs)
            result = func(*(args[:1] if passes else ()), *values, **kwargs)
        except PASS_THROUGH:
            raise
        except Exception as error:  # noqa: BLE001 - a value or argument the filter cannot take
            raise FilterFailed(name, given, error, len(values) > 1 or kwargs) from None
        if name in LAZY_FILTERS:  # their work (and its errors) happens as their result is read
            return _named_errors(name, given, result, len(values) > 1 or kwargs)
        spend.build(text_size(result))
        return result
    return guarded


class FilterFailed(TemplateRuntimeError):
    """A filter given a value or an argument it cannot take; the message names the filter."""

    def __init__(self, name, value, error, arguments=False):
        reason = str(error).rstrip(".") or type(error).__name__
        given = f"{_kind(value)} with these arguments" if arguments else _kind(value)
        super().__init__(f"the filter '{name}' cannot take {given} ({reason})")


# Not the filter's problem: Jinja's own errors (LimitExceeded is one), limits of the process, and
# RQ's job timeout, which must reach the worker so it can stop the job.
PASS_THROUGH = (TemplateError, RecursionError, MemoryError, JobTimeoutException)


def _kind(value) -> str:
    for kinds, word in ((Undefined, "an undefined value"), (bool, "true or false"), (str, "a text"),
                        ((int, float), "a number"), (dict, "a mapping"), ((list, tuple), "a list")):
        if isinstance(value, kinds):
            return word
    return "this value"


def _named_errors(name, value, items, arguments):
    """``items`` (the generator a lazy filter returns), its errors naming the filter."""
    try:
        yield from items
    except PASS_THROUGH:
        raise
    except Exception as error:  # noqa: BLE001
        raise FilterFailed(name, value, error, arguments) from None


def _no_check(spend, value, *args, **kwargs):
    return value


def _check_indent(spend, value, width=4, *args, **kwargs):
    width = kwargs.get("width", width)
    size = len(width) if isinstance(width, str) else int(width or 0)
    spend.build(len(str(value)) + (str(value).count("\n") + 1) * size)
    return value


def _check_wordwrap(spend, value, width=79, break_long_words=True, wrapstring=None, *args, **kwargs):
    width, wrapstring = kwargs.get("width", width), kwargs.get("wrapstring", wrapstring)
    spend.build(len(str(value)) * (1 + len(wrapstring or "\n")) // max(1, int(width or 1)) + len(str(value)))
    return value


def _check_format(spend, value, *args, **kwargs):
    spend.build(percent_size(str(value), kwargs or args))
    return value


def _check_replace(spend, value, old="", new="", count=None, **kwargs):
    spend.build(replace_size(str(value), str(old), str(new), -1 if count is None else count))
    return value


def _check_join(spend, value, d="", *args, **kwargs):
    items = bounded_list(value, "a join")
    spend.build(joined_size(items if not isinstance(items, dict) else list(items), str(kwargs.get("d", d))))
    return items


def _check_slice(spend, value, slices=1, *args, **kwargs):
    if int(kwargs.get("slices", slices)) > 1000:
        raise LimitExceeded("slice makes at most 1,000 slices")
    return bounded_list(value, "a slice")


def _check_sum(spend, value, attribute=None, start=0, **kwargs):
    start = kwargs.get("start", start)
    if isinstance(start, bool) or not isinstance(start, (int, float)):
        raise LimitExceeded("sum adds numbers only")
    return bounded_list(value, "a sum")


def _check_items(spend, value, *args, **kwargs):
    """Filters that run Python code for each item (a test, a key, an attribute): each item they
    read is a loop iteration, so the steps and the deadline are checked while they work."""
    if isinstance(value, Undefined):
        return value
    return bounded_loop(value)


def _check_dictsort(spend, value, *args, **kwargs):
    """dictsort reads a mapping's items: charged at once, one step an item."""
    if isinstance(value, dict):
        spend.tick(len(value))
    return value


def _counted(check):
    """``check``, then an item of its (listed) result one step."""
    def counted(spend, value, *args, **kwargs):
        items = check(spend, value, *args, **kwargs)
        if isinstance(items, (list, str, dict)):
            spend.tick(len(items))
        return items
    return counted


_FILTER_CHECKS = {"indent": _check_indent, "wordwrap": _check_wordwrap, "format": _check_format,
                  "replace": _check_replace, "join": _check_join, "slice": _check_slice,
                  "batch": _counted(lambda spend, value, *a, **k: bounded_list(value, "a batch")),
                  "sum": _counted(_check_sum),
                  "dictsort": _check_dictsort, **{name: _check_items for name in ITEM_FILTERS}}
