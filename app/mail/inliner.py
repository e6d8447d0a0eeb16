"""CSS inlining (css-inline) of a whole e-mail document, bounded so that no markup can crash the process."""
import re
import threading

import css_inline
from markupsafe import escape

from ..core.content_limits import ContentLimit

_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)
# css-inline's HTML parser (html5ever) builds the tree recursively: on an 8 MB thread stack it
# segfaults the whole process (a web server, an RQ worker) at 10,000-12,000 levels, about 800 bytes
# a level (measured 2026-12-01, css-inline on CPython 3.11). A document can nest no deeper than
# about twice its start tags (the elements HTML implies, as <tbody><tr> around a bare <td>, come
# at most two a tag; tests/mail/test_inliner.py measures the worst shapes), so refusing documents
# with more than MAX_START_TAGS start tags and inlining on a thread with an INLINER_STACK-byte stack
# (reserved, not used, until deep markup needs it) keeps every accepted document below a third of
# the stack. Real newsletters hold a few hundred to two thousand elements.
MAX_START_TAGS = 20_000
MAX_BODY_START_TAGS = MAX_START_TAGS - 1_000  # a body's share: the layout holds fewer than 1,000
INLINER_STACK = 64 * 1024 * 1024
_START_TAG = re.compile(r"<[A-Za-z]")


def refused_document(limit: ContentLimit) -> str:
    """What a preview shows instead of an e-mail past a limit: a page saying which."""
    return f"<!doctype html><title>Not shown</title><p>{escape(str(limit))}</p>"


def start_tag_count(document: str) -> int:
    """How many start tags ``document`` holds, counting anything a parser may read as one."""
    return len(_START_TAG.findall(document))


def inline_css(document: str) -> str:
    """``document`` with its <style> rules moved into style attributes and the <style> elements
    dropped; remote stylesheets are never loaded. Raises ContentLimit past MAX_START_TAGS start
    tags; any other error of css-inline propagates as it is."""
    count = start_tag_count(document)
    if count > MAX_START_TAGS:
        raise ContentLimit(f"The e-mail holds {count:,} HTML elements; at most {MAX_START_TAGS:,} can be "
                           "prepared for sending (docs/api.md).")
    answer = {}

    def run():
        try:
            answer["html"] = _INLINER.inline(document)
        except BaseException as error:  # handed to the calling thread
            answer["error"] = error
    previous = threading.stack_size(INLINER_STACK)
    try:
        thread = threading.Thread(target=run, name="css-inline", daemon=True)
        thread.start()
    finally:
        threading.stack_size(previous)
    thread.join()
    if "error" in answer:
        raise answer["error"]
    return answer["html"]
