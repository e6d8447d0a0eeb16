"""Rendering system e-mails in the bounded sandbox: placeholder checks, HTML escaping, limits."""
from functools import lru_cache

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SecurityError

from .sandbox import BoundedSandbox, LimitExceeded, bounded_render

SAMPLE_GLOBALS = {"network_name": "Herald Network", "network_url": "https://network.example"}
FORBIDDEN_TAGS = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


class TemplateProblem(ValueError):
    """A template that cannot be saved or rendered; the message is shown next to the field."""


class TemplateLimit(TemplateProblem):
    """A template that goes past a bound of the sandbox (size, loops, recursion, time)."""


def _sandbox(html: bool) -> BoundedSandbox:
    """The sandbox e-mails render in: no globals, no mutation, every bound of ``sandbox``."""
    return BoundedSandbox(autoescape=html, undefined=StrictUndefined, keep_trailing_newline=True)


_ENVIRONMENTS = {True: _sandbox(html=True), False: _sandbox(html=False)}


@lru_cache(maxsize=512)
def _compile(text: str, html: bool):
    return _ENVIRONMENTS[html].from_string(text)


def _parse(text: str, html: bool):
    try:
        return _ENVIRONMENTS[html].parse(text)
    except RecursionError:
        raise TemplateProblem("The template is nested too deeply.") from None
    except TemplateSyntaxError as error:
        raise TemplateProblem(f"Template error on line {error.lineno}: {error.message}.") from None


def _refuse_internals(ast) -> None:
    """Refuse, before running anything, templates that name private attributes or load templates."""
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateProblem(f"Refused: '{name}' reaches into Python internals. Templates run in "
                                  "a sandbox and may only read the event's placeholders.")
    if any(True for _ in ast.find_all(FORBIDDEN_TAGS)):
        raise TemplateProblem("Refused: include, import and extends are not available in e-mails.")


def check_template(text: str, event, style: str = "html") -> None:
    """Raise TemplateProblem when ``text`` has a syntax error, an unknown placeholder or an escape.

    ``event`` is the EventSpec whose placeholders are allowed. A trial render with the event's
    sample payload catches what only shows at run time (sandbox refusals, missing attributes).
    """
    html = style == "html"
    ast = _parse(text or "", html)
    _refuse_internals(ast)
    allowed = event.placeholders
    unknown = sorted(meta.find_undeclared_variables(ast) - set(allowed))
    if unknown:
        names = ", ".join("{{ %s }}" % name for name in unknown)
        offered = ", ".join(sorted(allowed))
        raise TemplateProblem(f"Unknown placeholder {names}. This event offers: {offered}.")
    render(text, {**SAMPLE_GLOBALS, **event.sample_payload()}, style)


def render(text: str, values: dict, style: str = "html") -> str:
    """Render ``text`` with ``values`` in the sandbox; raises TemplateProblem on any failure.

    Templates are ``{{ key }}`` placeholders plus Jinja's ``{% if %}``/``{% for %}``, run in
    ``sandbox.BoundedSandbox`` (immutable, no globals, sizes, loops, nesting and time bounded);
    values are HTML-escaped when ``style`` is "html". TemplateLimit (a TemplateProblem) when the
    template goes past a bound of the sandbox; its message names the limit."""
    try:
        return bounded_render(_compile(text or "", style == "html"), values)
    except LimitExceeded as error:
        raise TemplateLimit(f"Refused: {str(error).rstrip('.')} (a limit of the e-mail sandbox).") from None
    except SecurityError as error:
        raise TemplateProblem(f"Refused by the sandbox: {str(error).rstrip('.')}. Templates may "
                              "only read the event's placeholders.") from None
    except TemplateSyntaxError as error:
        raise TemplateProblem(f"Template error on line {error.lineno}: {error.message}.") from None
    except TemplateError as error:
        raise TemplateProblem(f"The template cannot be rendered: {str(error.message).rstrip('.')}.") from None
    except RecursionError:
        raise TemplateLimit("Refused: the template is nested too deeply (a limit of the e-mail sandbox).") from None
    except (ArithmeticError, TypeError, ValueError, LookupError) as error:
        raise TemplateProblem(f"The template cannot be rendered: {error}.") from None


def render_subject(text: str, values: dict) -> str:
    """Render a subject line: plain text on one line (no header injection)."""
    return " ".join(render(text, values, "plain").split())[:500]
