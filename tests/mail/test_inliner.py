"""The CSS inliner never crashes the process: documents past MAX_START_TAGS are refused with a
message, and the deepest shapes below it are inlined on the inliner's own large stack. Each shape
runs in a child process, since a stack overflow in css-inline kills the process outright."""
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from app.core.content_limits import ContentLimit
from app.mail.inliner import MAX_START_TAGS, inline_css, start_tag_count

# Each repeated unit, with how many start tags it holds: the shapes where HTML adds elements
# (<tbody><tr> around a bare <td>) or keeps reopening formatting elements.
SHAPES = {
    "nested <b>": ("<b>", 1),
    "bare table cells": ("<table><td>", 2),
    "nested lists": ("<ul><li>", 2),
    "misnested formatting": ("<b><p></b>", 2),
    "font across blocks": ("<font><div></font>", 2),
    "formatting reopened after a block": ('<div><b id="a"><i id="b"><u id="c"></div>x', 4),
}


class _Depth(HTMLParser):
    VOID = {"br", "img", "meta", "hr", "link", "input", "col", "wbr", "area", "base", "source"}

    def __init__(self):
        super().__init__()
        self.depth = self.deepest = 0

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.depth += 1
            self.deepest = max(self.deepest, self.depth)

    def handle_endtag(self, tag):
        self.depth -= 1


def _in_child(unit: str, repeats: int) -> subprocess.CompletedProcess:
    code = (f"import sys; from app.mail.inliner import inline_css; "
            f"sys.stdout.write(inline_css('<html><body>' + {unit!r} * {repeats} + '</body></html>'))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("shape", SHAPES)
def test_the_deepest_shapes_at_the_limit_are_inlined_without_crashing(shape):
    unit, tags = SHAPES[shape]
    repeats = (MAX_START_TAGS - 2) // tags
    child = _in_child(unit, repeats)
    assert child.returncode == 0, (shape, child.returncode, child.stderr[-500:])
    depth = _Depth()
    depth.feed(child.stdout)
    assert depth.deepest <= 2 * repeats * tags + 3, (shape, depth.deepest)  # the bound inliner.py relies on


def test_past_the_limit_it_is_refused_with_a_message_before_inlining():
    document = "<html><body>" + "<b>" * MAX_START_TAGS + "</body></html>"
    assert start_tag_count(document) == MAX_START_TAGS + 2
    with pytest.raises(ContentLimit, match=f"at most {MAX_START_TAGS:,} can be prepared"):
        inline_css(document)


def test_the_same_markup_crashes_css_inline_on_an_ordinary_stack():
    """Why the guard exists: without the inliner's own stack, this shape kills the process."""
    code = ("import css_inline; css_inline.CSSInliner().inline("
            f"'<html><body>' + '<table><td>' * {(MAX_START_TAGS - 2) // 2} + '</body></html>')")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300).returncode != 0


def test_styles_are_still_inlined():
    html = inline_css("<html><head><style>p { color: red }</style></head><body><p>x</p></body></html>")
    assert '<p style="color: red;">x</p>' in html and "<style>" not in html
