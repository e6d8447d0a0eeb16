"""Rendering system e-mails in Jinja2's sandbox: placeholder checks, HTML escaping, safe limits.

Templates are ``{{ key }}`` placeholders (plus Jinja's ``{% if %}``/``{% for %}``). They run in an
ImmutableSandboxedEnvironment with no globals, so an edited template cannot reach Python
internals; values are HTML-escaped in HTML e-mails; unknown placeholders are refused on save.
"""
from functools import lru_cache

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_REPEAT = 10_000  # '{{ "x" * 10**9 }}' would eat the worker's memory
SAMPLE_GLOBALS = {"network_name": "Herald Network", "network_url": "https://network.example"}
FORBIDDEN_TAGS = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


class TemplateProblem(ValueError):
    """A template that cannot be saved or rendered; the message is shown next to the field."""


class MailSandbox(ImmutableSandboxedEnvironment):
    """The sandbox e-mails render in: no globals, no mutation, no huge repeats or powers."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, html: bool):
        super().__init__(autoescape=html, undefined=StrictUndefined, keep_trailing_newline=True)
        self.globals.clear()

    def call_binop(self, context, operator, left, right):
        """Refuse ``**`` with big exponents and ``*`` repeating a string or list many times."""
        if operator == "**" and isinstance(right, (int, float)) and (
                abs(right) > 100 or (isinstance(left, int) and left.bit_length() * abs(right) > 4096)):
            raise SecurityError("the power is too large")
        if operator == "*":
            count = right if isinstance(left, (str, list, tuple)) else left
            if isinstance(left, (str, list, tuple)) or isinstance(right, (str, list, tuple)):
                if isinstance(count, int) and count > MAX_REPEAT:
                    raise SecurityError("the repeat count is too large")
        return super().call_binop(context, operator, left, right)


_ENVIRONMENTS = {True: MailSandbox(html=True), False: MailSandbox(html=False)}


@lru_cache(maxsize=512)
def _compile(text: str, html: bool):
    return _ENVIRONMENTS[html].from_string(text)


def _parse(text: str, html: bool):
    try:
        return _ENVIRONMENTS[html].parse(text)
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
    """Render ``text`` with ``values`` in the sandbox; raises TemplateProblem on any failure."""
    try:
        return _compile(text or "", style == "html").render(values)
    except SecurityError as error:
        raise TemplateProblem(f"Refused by the sandbox: {str(error).rstrip('.')}. Templates may "
                              "only read the event's placeholders.") from None
    except TemplateSyntaxError as error:
        raise TemplateProblem(f"Template error on line {error.lineno}: {error.message}.") from None
    except TemplateError as error:
        raise TemplateProblem(f"The template cannot be rendered: {str(error.message).rstrip('.')}.") from None
    except (ArithmeticError, TypeError, ValueError, LookupError) as error:
        raise TemplateProblem(f"The template cannot be rendered: {error}.") from None


def render_subject(text: str, values: dict) -> str:
    """Render a subject line: plain text on one line (no header injection)."""
    return " ".join(render(text, values, "plain").split())[:500]
