"""The budget of one template render: limits, sizes of values and the cost of string operations."""
import contextvars
import re
import string
import time
from contextlib import contextmanager
from itertools import islice

from jinja2.sandbox import SecurityError

MAX_TEXT = 1_000_000  # characters in any one string, list or rendered output
MAX_BUILT = 10_000_000  # characters built in all by one render
MAX_STEPS = 100_000  # loop iterations plus calls in one render
MAX_DEPTH = 20  # nested calls: macros, caller(), recursive loops
MAX_SECONDS = 0.25  # wall-clock time of one render
MAX_SOURCE = 200_000  # characters of a template
MAX_INT_BITS = 4096  # numbers a template computes
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_SPEC = re.compile(r"(?:.?[<>=^])?[+\- ]?z?#?0?(\d*)[,_]?(?:\.(\d+))?")
# Filters whose work is Python code per character (regular expressions with callbacks, textwrap):
# the most characters each takes, so that one call costs a small part of MAX_SECONDS.
FILTER_TEXT = {"urlize": 20_000, "wordwrap": 100_000, "title": 100_000, "wordcount": 200_000,
               "pprint": 100_000, "urlencode": 200_000, "striptags": 200_000}
# Filters that run Python code for each item of their input (a test, a key, an attribute): each
# item they read counts as a loop iteration (sandbox._check_items).
ITEM_FILTERS = ("select", "reject", "selectattr", "rejectattr", "map", "unique", "sort", "groupby",
                "max", "min")  # and dictsort, batch and sum, which take their input whole
REFUSED_METHODS = {"translate", "maketrans"}  # str methods whose output size cannot be foreseen


class LimitExceeded(SecurityError):
    """A template went past a bound of the sandbox; the message says which."""


class Budget:
    """What one render may still spend: time, steps, characters built, call depth."""

    def __init__(self, seconds: float = MAX_SECONDS):
        self.deadline = time.monotonic() + seconds
        self.steps = self.built = self.depth = 0

    def tick(self, steps: int = 1) -> None:
        """Count loop iterations or calls; LimitExceeded past MAX_STEPS or the deadline."""
        self.steps += steps
        if self.steps > MAX_STEPS:
            raise LimitExceeded(f"the template runs more than {MAX_STEPS:,} loop iterations and calls")
        self.check_time()

    def check_time(self) -> None:
        """LimitExceeded once the render took longer than MAX_SECONDS."""
        if time.monotonic() > self.deadline:
            raise LimitExceeded(f"the template takes longer than {MAX_SECONDS} s to render")

    @staticmethod
    def fits(size: int) -> None:
        """LimitExceeded when one value of ``size`` characters is larger than MAX_TEXT."""
        if size > MAX_TEXT:
            raise LimitExceeded(f"the template builds a text or list of more than {MAX_TEXT:,} characters")

    def build(self, size: int) -> None:
        """Account for a value of ``size`` characters about to be (or just) built."""
        self.fits(size)
        self.built += size
        if self.built > MAX_BUILT:
            raise LimitExceeded(f"the template builds more than {MAX_BUILT:,} characters in all")


_CURRENT: contextvars.ContextVar = contextvars.ContextVar("herald_template_budget", default=None)


def budget() -> Budget:
    """The budget of the render in progress (a fresh one outside ``use_budget``)."""
    return _CURRENT.get() or Budget()


@contextmanager
def use_budget(spend: Budget):
    """Make ``spend`` the budget of what runs inside the ``with`` block."""
    token = _CURRENT.set(spend)
    try:
        yield spend
    finally:
        _CURRENT.reset(token)


def text_size(value, limit: int = MAX_TEXT) -> int:
    """About how many characters ``value`` prints as; stops counting soon after ``limit``, so
    measuring a huge value costs no more than refusing it."""
    if isinstance(value, (str, bytes)):
        return len(value)
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, (str, bytes)):
            total += len(item) + 4
        elif isinstance(item, dict):
            total += 2 + 2 * len(item)
            stack.extend(islice((x for pair in item.items() for x in pair), limit - total + 1))
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(item)
            stack.extend(islice(item, max(0, limit - total + 1)))
        elif isinstance(item, int) and not isinstance(item, bool):
            total += item.bit_length() // 3 + 1
        else:
            total += 8
    return total


def check_numbers(args, kwargs) -> None:
    """LimitExceeded when a number argument is larger than MAX_TEXT (a width, a count, a size)."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_TEXT:
            raise LimitExceeded(f"a number passed to a function or filter is larger than {MAX_TEXT:,}")


def _longest(values) -> int:
    return max((text_size(v) for v in values), default=0)


def percent_size(template: str, values) -> int:
    """The most characters ``template % values`` can make; LimitExceeded for ``*`` widths."""
    items = values.values() if isinstance(values, dict) else values if isinstance(values, tuple) else (values,)
    specs = _PERCENT_SPEC.findall(template)
    if any("*" in spec for spec in specs):
        raise LimitExceeded("'*' widths in % formatting are not allowed")
    widths = sum(int(w or 0) + int(p or 0) for w, p in specs)
    return len(template) + widths + len(specs) * _longest(items)


def format_size(template: str, args, kwargs) -> int:
    """The most characters ``template.format(...)`` can make; LimitExceeded for nested fields."""
    fields = widths = 0
    for _, name, spec, _ in string.Formatter().parse(template):
        if name is None:
            continue
        if spec and "{" in spec:
            raise LimitExceeded("nested fields in a format specification are not allowed")
        match = _FORMAT_SPEC.match(spec or "")
        fields += 1
        widths += int(match.group(1) or 0) + int(match.group(2) or 0) if match else 0
    return len(template) + widths + fields * _longest([*args, *kwargs.values()])


def replace_size(text: str, old: str, new: str, count=-1) -> int:
    """The most characters ``text.replace(old, new, count)`` can make."""
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(0, len(str(new)) - len(str(old)))


def bounded_list(value, label: str = "a loop") -> list:
    """``value`` as a list of at most MAX_TEXT items (strings and dicts stay as they are)."""
    if isinstance(value, (str, dict)):
        return value
    items = list(islice(iter(value), MAX_TEXT + 1))
    if len(items) > MAX_TEXT:
        raise LimitExceeded(f"{label} has more than {MAX_TEXT:,} items")
    return items


def joined_size(items, separator: str = "") -> int:
    """The characters of ``separator.join(items)``, counted with an early stop past MAX_TEXT."""
    total = 0
    for item in items:
        total += text_size(item) + len(separator)
        if total > MAX_TEXT:
            break
    return total


def bounded_loop(iterable):
    """What every ``{% for %}`` iterates: each item costs a step."""
    spend = budget()
    for item in iterable:
        spend.tick()
        yield item


