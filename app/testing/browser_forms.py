"""What a browser submits for a form of a page: its successful controls in document order."""
from html.parser import HTMLParser


class _Form(HTMLParser):
    """Collects the controls of the first <form> whose action is ``action`` (HTML Standard,
    "constructing the entry list": hidden and text inputs, ticked checkboxes and radios, the
    selected options, textareas; in document order; no submit buttons)."""

    def __init__(self, action):
        super().__init__(convert_charrefs=True)
        self.action, self.inside, self.done = action, False, False
        self.entries, self._select, self._textarea = [], None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and not self.done:
            self.inside = attrs.get("action") == self.action
        if not self.inside or "disabled" in attrs or not attrs.get("name") and tag != "option":
            return
        name = attrs.get("name")
        kind = attrs.get("type", "text").lower()
        if tag == "input" and kind not in ("submit", "button", "image", "reset", "file"):
            if kind not in ("checkbox", "radio") or "checked" in attrs:
                self.entries.append((name, attrs.get("value", "on" if kind in ("checkbox", "radio") else "")))
        elif tag == "select":
            self._select = [name, None, False]
        elif tag == "option" and self._select is not None:
            if self._select[1] is None or "selected" in attrs and not self._select[2]:
                self._select[1:] = [attrs.get("value", ""), "selected" in attrs]
        elif tag == "textarea":
            self._textarea = [name, ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None:
            self.entries.append((self._select[0], self._select[1] or ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.entries.append(tuple(self._textarea))
            self._textarea = None
        elif tag == "form" and self.inside:
            self.inside, self.done = False, True


def browser_submission(html: str, action: str | None = None) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs, in order, that a browser posts when the form with
    ``action`` (None: the form without one, which posts to its page) on the page ``html`` is
    submitted unchanged."""
    parser = _Form(action)
    parser.feed(html)
    return parser.entries
