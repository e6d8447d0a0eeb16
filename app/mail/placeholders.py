"""The one placeholder grammar of every message: checked with positions, compiled once, filled fast.

    placeholder := "{{" name [ "|" "default" "(" string ")" ] "}}"    (spaces allowed between)
    name        := a letter or _, then letters, digits or _
    string      := "…" or '…' holding no backslash, line break or quote of its own kind

``check`` reads a template strictly: anything that opens ``{{`` (or ``{%``, ``{#`` where Jinja
blocks are not allowed) and is not valid is a PlaceholderError naming its line, column and what
was expected. ``compile_template`` reads stored text leniently (what is not a valid placeholder
stays literal text) into literal parts and names, so rendering for each of 100,000 recipients is
a join, not a template-engine run. The rules are written for people in docs/placeholders.md.
"""
import html
import re
from dataclasses import dataclass

PLACEHOLDER_RE = re.compile(r"""\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*"""
                            r"""(?:\|\s*default\s*\(\s*(?:"([^"\\\n]*)"|'([^'\\\n]*)')\s*\)\s*)?\}\}""")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPACE_RE = re.compile(r"\s*")
_OPENERS = {False: re.compile(r"\{[{%]"), True: re.compile(r"\{[{%#]")}
URL_SUFFIX = "_url"


@dataclass(frozen=True)
class Placeholder:
    """One placeholder: ``source`` is its text, found at ``start`` (None when added by code)."""
    name: str
    fallback: str | None = None
    source: str = ""
    start: int | None = None

    @classmethod
    def named(cls, name: str) -> "Placeholder":
        """A placeholder made by code (e.g. the tracking's), not read from a template."""
        return cls(name, None, "{{ %s }}" % name)


@dataclass(frozen=True)
class Block:
    """A Jinja ``{% … %}`` block or ``{# … #}`` comment, where a template allows them."""
    source: str
    start: int


class PlaceholderError(ValueError):
    """A template that breaks the grammar; ``line`` and ``column`` count from 1, ``offset`` from 0."""

    def __init__(self, text: str, offset: int, message: str):
        self.offset, self.message = offset, message
        self.line, self.column = position(text, offset)
        super().__init__(f"Line {self.line}, column {self.column}: {message}")


def position(text: str, offset: int) -> tuple[int, int]:
    """(line, column) of character ``offset`` of ``text``, both counted from 1."""
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


def is_url_placeholder(name: str) -> bool:
    """True for placeholders whose value is a whole address (named ``…_url``): only these may
    begin an href or src (docs/placeholders.md)."""
    return name.endswith(URL_SUFFIX)


def is_blank(value) -> bool:
    """True when a value is missing, None or only whitespace: where ``default("…")`` applies."""
    return value is None or not str(value).strip()


def _placeholder(match) -> Placeholder:
    fallback = match.group(2) if match.group(2) is not None else match.group(3)
    return Placeholder(match.group(1), fallback, match.group(0), match.start())


def placeholders(text: str) -> list[Placeholder]:
    """The valid placeholders of ``text`` in order, read leniently (what ``compile_template`` fills)."""
    return [_placeholder(match) for match in PLACEHOLDER_RE.finditer(text or "")]


def placeholders_in(text: str) -> list[str]:
    """The placeholder names used in ``text``, in order of first use."""
    return list(dict.fromkeys(item.name for item in placeholders(text)))


def scan(text: str, blocks: bool = False) -> list:
    """Every Placeholder (and Block, when ``blocks``) of ``text`` in order; raises PlaceholderError
    at the first ``{{`` (``{%``, ``{#``) that does not open a valid one."""
    items, at, text = [], 0, text or ""
    opener = _OPENERS[blocks]
    while (found := opener.search(text, at)) is not None:
        start = found.start()
        if text[start + 1] == "{":
            match = PLACEHOLDER_RE.match(text, start)
            if match is None:
                raise PlaceholderError(text, *_diagnose(text, start))
            items.append(_placeholder(match))
            at = match.end()
        elif not blocks:
            raise PlaceholderError(text, start, "blocks ({% … %}) are not available here; write "
                                                "{{ name }} or {{ name | default(\"…\") }}")
        else:
            end = _block_end(text, start)
            items.append(Block(text[start:end], start))
            at = end
    return items


def check(text: str, known=None, blocks: bool = False) -> list:
    """``scan(text, blocks)``, also refusing (at its position) a placeholder whose name is not in
    ``known`` when given."""
    items = scan(text, blocks)
    for item in items:
        if known is not None and isinstance(item, Placeholder) and item.name not in known:
            offered = ", ".join("{{ %s }}" % name for name in known)
            raise PlaceholderError(text, item.start, "unknown placeholder {{ %s }}; known: %s."
                                   % (item.name, offered))
    return items


def _diagnose(text: str, start: int) -> tuple[int, str]:
    """(offset, message) of the fault in the invalid placeholder opened at ``start``."""
    at = _SPACE_RE.match(text, start + 2).end()
    name = _NAME_RE.match(text, at)
    if name is None:
        if text.startswith("}}", at):
            return start, "empty placeholder: expected a name between {{ and }}"
        return at, f"expected a placeholder name after {{{{, found {_found(text, at)}"
    at = _SPACE_RE.match(text, name.end()).end()
    if not text.startswith("|", at):
        if at >= len(text):
            return start, f"{{{{ {name.group()} is not closed: expected }}}}"
        return at, (f"expected }}}} or | default(\"…\") after {name.group()}, "
                    f"found {_found(text, at)}")
    at = _SPACE_RE.match(text, at + 1).end()
    word = _NAME_RE.match(text, at)
    if word is None or word.group() != "default":
        return at, f"unknown filter {_found(text, at)}: the only filter is default(\"…\")"
    at = _SPACE_RE.match(text, word.end()).end()
    if not text.startswith("(", at):
        return at, f"expected ( after default, found {_found(text, at)}"
    at = _SPACE_RE.match(text, at + 1).end()
    quote = text[at:at + 1]
    if quote not in ("'", '"'):
        return at, f"expected the fallback text in quotes, e.g. default(\"there\"), found {_found(text, at)}"
    close = re.compile(f"[{quote}\\\\\\n]").search(text, at + 1)
    if close is None or close.group() != quote:
        where = close.start() if close else len(text)
        return where, f"the fallback text opened at column {position(text, at)[1]} is not closed: " \
                      f"expected {quote} (a fallback holds no backslash or line break)"
    at = _SPACE_RE.match(text, close.end()).end()
    if not text.startswith(")", at):
        return at, f"expected ) after the fallback text, found {_found(text, at)}"
    at = _SPACE_RE.match(text, at + 1).end()
    return at, f"expected }}}} to close the placeholder, found {_found(text, at)}"


def _found(text: str, at: int) -> str:
    if at >= len(text):
        return "the end of the text"
    return repr(_NAME_RE.match(text, at).group() if _NAME_RE.match(text, at) else text[at])


def _block_end(text: str, start: int) -> int:
    """The end of the ``{% … %}`` (or ``{# … #}``) opened at ``start``; strings are skipped."""
    closer, at = ("%}" if text[start + 1] == "%" else "#}"), start + 2
    while at < len(text):
        if text.startswith(closer, at):
            return at + 2
        if closer == "%}" and text[at] in "'\"":
            end = text.find(text[at], at + 1)
            at = len(text) if end < 0 else end + 1
        else:
            at += 1
    raise PlaceholderError(text, start, f"{text[start:start + 2]} is not closed: expected {closer}")


@dataclass(frozen=True)
class CompiledTemplate:
    """A template split once into literals (even indexes) and names (odd indexes); ``defaults``
    holds, per placeholder, None or its fallback as (text, HTML-escaped text), and is None when
    no placeholder has one (the common case keeps its short loop)."""
    parts: tuple
    defaults: tuple | None = None

    @classmethod
    def of(cls, pieces) -> "CompiledTemplate":
        """A template from literal strings and Placeholders, in order (adjacent literals joined)."""
        parts, defaults = [""], []
        for piece in pieces:
            if isinstance(piece, Placeholder):
                parts += [piece.name, ""]
                fallback = piece.fallback
                defaults.append(None if fallback is None else (fallback, html.escape(fallback, quote=True)))
            else:
                parts[-1] += piece
        return cls(tuple(parts), tuple(defaults) if any(d is not None for d in defaults) else None)

    @property
    def slots(self) -> list[Placeholder]:
        """The placeholders, in order."""
        defaults = self.defaults or (None,) * (len(self.parts) // 2)
        return [Placeholder(name, None if fallback is None else fallback[0])
                for name, fallback in zip(self.parts[1::2], defaults)]

    def render(self, values: dict, escape_html: bool) -> str:
        """Fill placeholders from ``values`` (missing ones become '', or their fallback when the
        value ``is_blank``), escaping for HTML if asked."""
        out = list(self.parts)
        if self.defaults is not None:
            return self._render_with_defaults(out, values, escape_html)
        for index in range(1, len(out), 2):
            value = values.get(out[index])
            value = "" if value is None else str(value)
            out[index] = html.escape(value, quote=True) if escape_html else value
        return "".join(out)

    def _render_with_defaults(self, out: list, values: dict, escape_html: bool) -> str:
        for index in range(1, len(out), 2):
            value, fallback = values.get(out[index]), self.defaults[index >> 1]
            if fallback is not None and is_blank(value):
                out[index] = fallback[1] if escape_html else fallback[0]
                continue
            value = "" if value is None else str(value)
            out[index] = html.escape(value, quote=True) if escape_html else value
        return "".join(out)


def compile_template(text: str) -> CompiledTemplate:
    """Compile ``text`` for fast repeated rendering (invalid placeholder syntax stays literal)."""
    text, pieces, at = text or "", [], 0
    for item in placeholders(text):
        pieces += [text[at:item.start], item]
        at = item.start + len(item.source)
    pieces.append(text[at:])
    return CompiledTemplate.of(pieces)
