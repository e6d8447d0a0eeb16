"""The placeholder grammar of every message: ``{{ name }}``, compiled once, filled per recipient.

A template is compiled once into literal parts and names, so rendering for each of 100,000
recipients is a join, not a template-engine run.
"""
import html
import re
from dataclasses import dataclass

PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def placeholders_in(text: str) -> list[str]:
    """The placeholder names used in ``text``, in order of first use."""
    seen = []
    for name in PLACEHOLDER_RE.findall(text or ""):
        if name not in seen:
            seen.append(name)
    return seen


def unknown_placeholders(text: str, known) -> list[str]:
    """Placeholder names in ``text`` that are not in ``known``."""
    return [name for name in placeholders_in(text) if name not in known]


@dataclass(frozen=True)
class CompiledTemplate:
    """A template split once into literals (even indexes) and placeholder names (odd indexes)."""
    parts: tuple

    def render(self, values: dict, escape_html: bool) -> str:
        """Fill placeholders from ``values`` (missing ones become ''), escaping for HTML if asked."""
        out = list(self.parts)
        for index in range(1, len(out), 2):
            value = values.get(out[index])
            value = "" if value is None else str(value)
            out[index] = html.escape(value, quote=True) if escape_html else value
        return "".join(out)


def compile_template(text: str) -> CompiledTemplate:
    """Compile ``text`` for fast repeated rendering."""
    return CompiledTemplate(tuple(PLACEHOLDER_RE.split(text or "")))
