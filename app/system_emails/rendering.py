"""Rendering system e-mails in Jinja2's sandbox: placeholder checks, HTML escaping, safe limits.

The one placeholder grammar (``app.mail.placeholders``, docs/placeholders.md) holds here too and is
checked before Jinja sees a template: every ``{{ … }}`` is ``{{ name }}`` or
``{{ name | default("…") }}``, with its position when not; in HTML bodies placeholders stand
where no value can inject code (``app.mail.placement``). On top of broadcasts, system e-mails
allow Jinja's ``{% … %}`` blocks (``if``, ``for``, ``set`` …) and ``{# … #}`` comments: Jinja's
parser reads them, and its errors are given the line and column of the block at fault. Templates
run in a bounded sandbox (``sandbox.BoundedSandbox``: immutable, no globals, sizes, loops,
nesting and time bounded), so an edited template cannot reach Python internals or exhaust a worker; ``default`` applies to blank values as everywhere (``is_blank``); values are
HTML-escaped in HTML e-mails; unknown placeholders are refused on save.
"""
import difflib
import re
from functools import lru_cache

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, Undefined, meta, nodes
from jinja2.sandbox import SecurityError
from rq.timeouts import JobTimeoutException

from ..core.content_limits import MAX_BLOCK_NESTING, ContentLimit, check_content
from ..mail.inliner import MAX_BODY_START_TAGS, start_tag_count
from ..mail.placeholders import Block, Placeholder, PlaceholderError, check, is_blank, position, scan
from ..mail.placement import check_html
from .sandbox import BoundedSandbox, LimitExceeded, bounded_render

SAMPLE_GLOBALS = {"network_name": "Herald Network", "network_url": "https://network.example"}
FORBIDDEN_TAGS = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)
BLOCK_TAGS = {"if", "for", "macro", "call", "filter", "with", "autoescape", "raw", "block", "trans"}
_KEYWORD_RE = re.compile(r"\{%[-+]?\s*(\w*)")
_LIMIT_RE = re.compile(r"too deeply|longer than")  # the messages of BoundedSandbox._parse's bounds
_UNKNOWN_RE = re.compile(r"No (filter|test) named '(\w+)'")  # Jinja's, when it compiles or runs


class TemplateProblem(ValueError):
    """A template that cannot be saved or rendered; the message is shown next to the field."""


class TemplateLimit(TemplateProblem):
    """A template that goes past a bound of the sandbox (size, loops, recursion, time)."""


def _sandbox(html: bool) -> BoundedSandbox:
    """The sandbox e-mails render in: no globals, no mutation, every bound of ``sandbox``, and the
    grammar's ``default`` (a blank value falls back, as everywhere)."""
    environment = BoundedSandbox(autoescape=html, undefined=StrictUndefined, keep_trailing_newline=True)
    environment.filters["default"] = environment.filters["d"] = fallback
    return environment



def fallback(value, text="", boolean=False):
    """The sandbox's ``default`` filter: ``text`` when ``value`` is undefined or ``is_blank``, as
    placeholders' ``default("…")`` everywhere (Jinja's own only replaces undefined values)."""
    return text if isinstance(value, Undefined) or is_blank(value) else value


_ENVIRONMENTS = {True: _sandbox(html=True), False: _sandbox(html=False)}


@lru_cache(maxsize=512)
def _compile(text: str, html: bool):
    """The compiled template; TemplateLimit when it nests blocks past ``MAX_BLOCK_NESTING`` or
    Python cannot compile what Jinja made of it (too deep, too large), never a bare SyntaxError."""
    try:
        blocks = [item for item in scan(text, blocks=True) if isinstance(item, Block)]
    except PlaceholderError:
        blocks = []  # the grammar's own error comes from Jinja's parser below
    _check_nesting(text, blocks)
    try:
        return _ENVIRONMENTS[html].from_string(text)
    except (SyntaxError, RecursionError, MemoryError) as error:  # IndentationError is a SyntaxError
        reason = error.msg if isinstance(error, SyntaxError) else "it is nested too deeply"
        raise TemplateLimit(f"Refused: the template cannot be compiled ({reason}); nest fewer "
                            "blocks or expressions (a limit of the e-mail sandbox).") from None


def _check_nesting(text: str, blocks: list) -> None:
    """TemplateLimit, at the block, when ``{% … %}`` blocks open more than MAX_BLOCK_NESTING deep."""
    open_ = 0
    for block in blocks:
        word = _keyword(block)
        if word.startswith("end"):
            open_ = max(0, open_ - 1)
        elif word in BLOCK_TAGS or (word == "set" and "=" not in block.source):
            open_ += 1
            if open_ > MAX_BLOCK_NESTING:
                line, column = position(text, block.start)
                raise TemplateLimit(f"Line {line}, column {column}: blocks ({{% if %}}, {{% for %}} …) "
                                    f"nest more than {MAX_BLOCK_NESTING} deep (a limit of the e-mail sandbox).")


def _problem(text: str, offset, message: str) -> "TemplateProblem":
    if offset is None:
        return TemplateProblem(message[:1].upper() + message[1:])
    line, column = position(text, offset)
    return TemplateProblem(f"Line {line}, column {column}: {message}")


def _keyword(block: Block) -> str:
    return _KEYWORD_RE.match(block.source).group(1) if block.source.startswith("{%") else ""


def _unclosed(blocks: list) -> list:
    """The blocks still open at the end, innermost last."""
    open_ = []
    for block in blocks:
        word = _keyword(block)
        if word.startswith("end") and open_ and _keyword(open_[-1]) == word[3:]:
            open_.pop()
        elif word in BLOCK_TAGS or (word == "set" and "=" not in block.source):
            open_.append(block)
    return open_


def _block_on_line(text: str, blocks: list, line: int, hint: str = ""):
    """The offset of the block on ``line`` (the one whose keyword is ``hint`` if any), or None."""
    on_line = [b for b in blocks if position(text, b.start)[0] <= line <= position(text, b.start + len(b.source))[0]]
    chosen = [b for b in on_line if hint and _keyword(b) == hint] or on_line
    return chosen[0].start if chosen else None


def _parse(text: str, html: bool, blocks: list):
    try:
        return _ENVIRONMENTS[html].parse(text)
    except (RecursionError, MemoryError):
        raise TemplateLimit("Refused: the template is nested too deeply (a limit of the e-mail sandbox).") from None
    except TemplateSyntaxError as error:
        raise _syntax_problem(text, blocks, error, html) from None


def _syntax_problem(text: str, blocks: list, error: TemplateSyntaxError, html: bool) -> TemplateProblem:
    """What Jinja found reading or compiling ``text`` (a syntax error; an unknown filter or test,
    which Jinja finds when it compiles), at the block at fault."""
    offset = None
    if error.message.startswith("Unexpected end of template") and _unclosed(blocks):
        offset = _unclosed(blocks)[-1].start
    if offset is None:
        tag = re.search(r"unknown tag '(\w+)'", error.message)
        offset = _block_on_line(text, blocks, error.lineno or 1, tag.group(1) if tag else "")
    if offset is None:
        offset = _line_start(text, error.lineno or 1)
    problem = _problem(text, offset, _explained(error.message, html))
    if _LIMIT_RE.search(error.message or ""):  # the sandbox's size and depth bounds
        problem = TemplateLimit(str(problem))
    return problem


def _explained(message: str, html: bool) -> str:
    """Jinja's ``message`` as a sentence; for an unknown filter or test, the nearest names."""
    message = str(message or "").rstrip(".") + "."
    unknown = _UNKNOWN_RE.search(message)
    if unknown:
        kind, name = unknown.groups()
        names = getattr(_ENVIRONMENTS[html], "filters" if kind == "filter" else "tests")
        near = difflib.get_close_matches(name, [n for n in names if not n.startswith("herald_")], 3)
        message = f"no {kind} is called '{name}'." + (
            f" Did you mean {' or '.join(repr(n) for n in near)}?" if near else "")
    return message


def _line_start(text: str, line: int) -> int:
    """The offset where ``line`` (from 1) of ``text`` starts."""
    return sum(len(part) + 1 for part in text.split("\n")[:line - 1])


def _refuse_internals(ast) -> None:
    """Refuse, before running anything, templates that name private attributes or load templates."""
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateProblem(f"Refused: '{name}' reaches into Python internals (line {node.lineno}). "
                                  "Templates run in a sandbox and may only read the event's placeholders.")
    if any(True for _ in ast.find_all(FORBIDDEN_TAGS)):
        raise TemplateProblem("Refused: include, import and extends are not available in e-mails.")


def _first_use(text: str, items: list, name: str):
    """The offset of the first placeholder named ``name``, or of the first block naming it."""
    for item in items:
        if isinstance(item, Placeholder) and item.name == name:
            return item.start
        if isinstance(item, Block) and re.search(rf"\b{re.escape(name)}\b", item.source):
            return item.start
    return None


def check_template(text: str, event, style: str = "html") -> None:
    """Raise TemplateProblem when ``text`` breaks the placeholder grammar (or, in HTML, where
    placeholders may stand), has a Jinja syntax error, an unknown placeholder or an escape; the
    message starts with the line and column when there is one.

    ``event`` is the EventSpec whose placeholders are allowed. A trial render with the event's
    sample payload catches what only shows at run time (sandbox refusals, missing attributes).
    """
    html, text = style == "html", text or ""
    try:
        check_content(text, "The template", html)
    except ContentLimit as limit:
        raise TemplateLimit(str(limit)) from None
    try:
        items = check(text, blocks=True)
        if html:
            check_html(text, items)
    except PlaceholderError as error:
        raise TemplateProblem(str(error)) from None
    blocks = [item for item in items if isinstance(item, Block)]
    _check_nesting(text, blocks)
    ast = _parse(text, html, blocks)
    _refuse_internals(ast)
    allowed = event.placeholders
    try:  # Jinja compiles the template to find its variables: unknown filters and tests show here
        used = meta.find_undeclared_variables(ast)
    except TemplateSyntaxError as error:
        raise _syntax_problem(text, blocks, error, html) from None
    except (RecursionError, MemoryError):
        raise TemplateLimit("Refused: the template is nested too deeply (a limit of the e-mail sandbox).") from None
    unknown = sorted(used - set(allowed),
                     key=lambda name: (_first_use(text, items, name) or 0, name))
    if unknown:
        names = ", ".join("{{ %s }}" % name for name in unknown)
        offered = ", ".join(sorted(allowed))
        raise _problem(text, _first_use(text, items, unknown[0]),
                       f"unknown placeholder {names}. This event offers: {offered}.")
    render(text, {**SAMPLE_GLOBALS, **event.sample_payload()}, style)


def render(text: str, values: dict, style: str = "html") -> str:
    """Render ``text`` with ``values`` in the sandbox; raises TemplateProblem on any failure.

    Templates are ``{{ key }}`` placeholders plus Jinja's ``{% if %}``/``{% for %}``, run in
    ``sandbox.BoundedSandbox`` (immutable, no globals, sizes, loops, nesting and time bounded);
    values are HTML-escaped when ``style`` is "html". TemplateLimit (a TemplateProblem) when the
    template goes past a bound of the sandbox, or its HTML output holds more elements than the CSS
    inliner takes (``app.mail.inliner.MAX_BODY_START_TAGS``); its message names the limit."""
    html = style == "html"
    try:
        output = bounded_render(_compile(text or "", html), values)
    except TemplateProblem:
        raise
    except LimitExceeded as error:
        raise TemplateLimit(f"Refused: {str(error).rstrip('.')} (a limit of the e-mail sandbox).") from None
    except SecurityError as error:
        raise TemplateProblem(f"Refused by the sandbox: {str(error).rstrip('.')}. Templates may "
                              "only read the event's placeholders.") from None
    except TemplateSyntaxError as error:  # the sandbox's size and depth bounds are limits too
        kind = TemplateLimit if _LIMIT_RE.search(error.message or "") else TemplateProblem
        raise kind(f"Line {error.lineno or 1}: {_explained(error.message, html)}") from None
    except (RecursionError, MemoryError):
        raise TemplateLimit("Refused: the template is nested too deeply (a limit of the e-mail sandbox).") from None
    except JobTimeoutException:  # must reach the worker so it can stop the job
        raise
    except Exception as error:  # noqa: BLE001 - whatever the template's code raised is the template's problem
        raise _runtime_problem(error, html) from None
    if style == "html" and start_tag_count(output) > MAX_BODY_START_TAGS:
        raise TemplateLimit(f"Refused: the rendered e-mail holds {start_tag_count(output):,} HTML elements; at "
                            f"most {MAX_BODY_START_TAGS:,} can be prepared for sending (a limit of the CSS inliner).")
    return output


def _runtime_problem(error: Exception, html: bool) -> TemplateProblem:
    """What went wrong running a template (an undefined value, a filter, test or method given a
    value it cannot take, a division by zero …), with the template's line where Jinja knows it."""
    if isinstance(error, TemplateError):
        reason = _explained(error.message, html)
    else:
        reason = f"{str(error).rstrip('.') or type(error).__name__}."
    line = _template_line(error.__traceback__)
    message = f"the template cannot be rendered: {reason[:1].lower() + reason[1:]}"
    return TemplateProblem(f"Line {line}: {message}" if line else message[:1].upper() + message[1:])


def _template_line(trace):
    """The line of the template (the innermost) in ``trace``, as Jinja rewrites it, or None."""
    line = None
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def render_subject(text: str, values: dict) -> str:
    """Render a subject line: plain text on one line (no header injection)."""
    return " ".join(render(text, values, "plain").split())[:500]
