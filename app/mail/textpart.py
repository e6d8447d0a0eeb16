"""The one text-part converter: the plain-text alternative of every HTML e-mail (html2text)."""
import html2text

from .masking import Mask


def html_to_text(source: str, mask: Mask | None = None) -> str:
    """The plain-text alternative of an HTML document (links kept, images dropped). With a
    ``mask``, ``source`` may hold its words, and the result holds them too; without one, the
    result is plain text."""
    converter = html2text.HTML2Text()
    converter.body_width = 78
    converter.wrap_links = False
    converter.ignore_images = True
    converter.unicode_snob = True
    text = converter.handle(source).strip() + "\n"
    return mask.restore_literals(text) if mask is not None else text
