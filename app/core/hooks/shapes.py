"""The shapes of filter values: what a plugin's filter callback must return, and how its input is copied."""
import copy
import math
from dataclasses import dataclass
from typing import Any, Callable, Optional


class BadReturnValue(TypeError):
    """A plugin's filter callback returned a value of the wrong shape (a fault of that plugin)."""


@dataclass(frozen=True)
class Shape:
    """What a filter's value looks like.

    ``describe`` is shown in the fault ("a list of (title, html) pairs"); ``test(value) -> bool``
    accepts a value of that shape; ``copy(value)`` (optional) gives each plugin callback its own
    container, so a callback that changes its input and then raises (or returns a wrong shape)
    leaves the value that goes on untouched. Copies are shallow: the items are shared."""
    describe: str
    test: Callable[[Any], bool]
    copy: Optional[Callable[[Any], Any]] = None

    def check(self, hook: str, value) -> None:
        """Raise BadReturnValue unless ``value`` has this shape."""
        if not self.test(value):
            raise BadReturnValue(f"{hook} must return {self.describe}, not {_short(value)}")


def _short(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:80]}{'…' if len(text) > 80 else ''}"


def _pair(item) -> bool:
    return (isinstance(item, (tuple, list)) and len(item) == 2
            and isinstance(item[0], str) and isinstance(item[1], str))


def _has(*names):
    return lambda item: all(hasattr(item, name) for name in names)


def list_of(describe: str, item: Callable[[Any], bool]) -> Shape:
    """A list whose every item passes ``item``; each callback gets a copy of the list."""
    return Shape(describe, lambda v: isinstance(v, list) and all(item(i) for i in v), list)


def dict_of(describe: str, value: Optional[Callable[[Any], bool]] = None) -> Shape:
    """A dict with str keys and values passing ``value`` (any when None); callbacks get a copy."""
    if value is None:
        return Shape(describe, lambda v: isinstance(v, dict) and all(isinstance(k, str) for k in v), dict)
    return Shape(describe, lambda v: isinstance(v, dict)
                 and all(isinstance(k, str) and value(x) for k, x in v.items()), dict)


def _json(value, depth=0) -> bool:
    if depth > 50:
        return False
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_json(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json(v, depth + 1) for k, v in value.items())
    return False


def _copy_message(message):
    """A message with its own header list (text and html are immutable strings)."""
    duplicate = object.__new__(type(message))
    duplicate.__dict__.update(message.__dict__)
    duplicate.headers = list(message.headers)
    return duplicate


def _message(value) -> bool:
    try:
        return (isinstance(value.headers, list) and isinstance(value.text, str)
                and isinstance(value.html, str) and isinstance(value.envelope_from, str))
    except AttributeError:
        return False


PANELS = list_of("a list of (title, html) pairs of str (html as Markup)", _pair)
MARKUP_LIST = list_of("a list of str (Markup)", lambda item: isinstance(item, str))
MENU = list_of("a list of MenuItem", lambda i: isinstance(getattr(i, "label", None), str)
               and isinstance(getattr(i, "endpoint", None), str) and isinstance(getattr(i, "order", None), int))
PROBLEMS = list_of("a list of Problem(step, message)", _has("step", "message"))
STR_DICT = dict_of("a dict {str: str}", value=lambda v: isinstance(v, str))
VALUES = dict_of("a dict with str keys")
FACTORIES = dict_of("a dict {scheme: factory}", value=callable)
BOOL = Shape("a bool", lambda v: isinstance(v, bool))
MESSAGE = Shape("an OutgoingMessage", _message, _copy_message)
TRACKING = Shape("None or an object with html and values()",
                 lambda v: v is None or (isinstance(getattr(v, "html", None), str)
                                         and callable(getattr(v, "values", None))))
JSON = Shape("a JSON value (dict, list, str, number, bool or None)", _json, copy.deepcopy)
