"""Host names and the local part of addresses: the one check every domain Herald takes in goes through.

``host_name`` is used by domain mapping, the domain of every e-mail address
(``mail.addresses.normalise_address``), host-name settings (``type="host"``, such as domain
mapping's ``cname_target``) and the host of URL settings; ``local_part_problem`` by every
address (``normalise_address`` and ``email`` settings). See docs/addresses.md.

Domains follow IDNA 2008 with the UTS #46 mapping, nontransitional, as browsers look them up
(the ``idna`` package): ``straße.de`` is ``xn--strae-oqa.de`` (IDNA 2003, Python's own ``idna``
codec, made it ``strasse.de``, another domain), ``😀.example.com`` and the invalid A-label
``xn--zz.com`` are refused. Characters UTS #46 would drop without a word (U+200B ZERO WIDTH
SPACE, the soft hyphen) are refused instead: ``ex\u200bample.com`` is not quietly
``example.com``. A label that mixes scripts (UTS #39 section 5.2, "highly restrictive": Latin
with Han and Japanese kana, Bopomofo or Hangul is one script) is refused, as is such a local
part: ``аdmin`` with a Cyrillic ``а`` looks like ``admin`` (script data: the
``confusable-homoglyphs`` package, from Unicode's Scripts.txt).
"""
import unicodedata

import idna
from confusable_homoglyphs.categories import alias

MAX_HOST = 253  # RFC 1035 section 2.3.4 (255 octets on the wire)
MAX_LOCAL_PART = 64  # octets, RFC 5321 section 4.5.3.1.1
# Scripts that any text may hold beside one other (digits, punctuation, combining marks).
_ANY_SCRIPT = {"COMMON", "INHERITED"}
# UTS #39 section 5.2, highly restrictive: these sets read as one script (Japanese, Chinese, Korean).
_ONE_SCRIPT = ({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}, {"LATIN", "HAN", "BOPOMOFO"},
               {"LATIN", "HAN", "HANGUL"})
# Characters no host name holds, refused before UTS #46 maps them away: controls, format
# characters (ZWJ and ZWNJ excepted: IDNA 2008's CONTEXTJ rules allow them in some scripts),
# separators, private use, surrogates and unassigned code points.
_UNSEEN = {"Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cs", "Cn"}
_JOINERS = {"\u200c", "\u200d"}


class HostNameError(ValueError):
    """A host name the rules refuse; ``str(error)`` says why, for the person who typed it."""


def mixed_scripts(text: str) -> list[str] | None:
    """The scripts ``text`` mixes (sorted, in words: ``["Cyrillic", "Latin"]``), or None when it
    is written in one (Common and Inherited characters go with any; see ``_ONE_SCRIPT``)."""
    if text.isascii():
        return None
    scripts = {alias(character) for character in text} - _ANY_SCRIPT
    if len(scripts) <= 1 or any(scripts <= allowed for allowed in _ONE_SCRIPT):
        return None
    return sorted(script.replace("_", " ").title() for script in scripts)


def _unseen(text: str) -> str | None:
    for character in text:
        if character not in _JOINERS and character != " " and unicodedata.category(character) in _UNSEEN:
            name = unicodedata.name(character, "")
            return f"U+{ord(character):04X}" + (f" {name}" if name else "")
    return None


def host_name(value, label: str = "The domain", need_dot: bool = True) -> str:
    """``value`` as the host name Herald stores: IDNA 2008 A-labels in lower case, without a
    trailing dot (``Straße.DE.`` -> ``xn--strae-oqa.de``). HostNameError naming ``label`` when it
    is empty, holds an invisible character, is no valid IDNA 2008 name (UTS #46 nontransitional,
    STD3 letters, digits and hyphens), is longer than 253 characters, ends in a numeric label (an
    IP address), mixes scripts in a label, or (``need_dot``) has a single label."""
    text = str(value if value is not None else "").strip()
    if not text:
        raise HostNameError(f"{label} is required.")
    shown = text[:80]
    unseen = _unseen(text)
    if unseen:
        raise HostNameError(f"{label} {shown!r} holds an invisible or control character ({unseen}); "
                            "type the name again.")
    text = text[:-1] if text.endswith(".") else text
    try:
        ascii_name = idna.encode(text, uts46=True, std3_rules=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError) as error:
        raise HostNameError(f"{label} {shown!r} is not a valid domain name ({error}); "
                            "enter one such as www.example.com.") from None
    if len(ascii_name) > MAX_HOST:
        raise HostNameError(f"{label} is too long: at most {MAX_HOST} characters (RFC 1035).")
    labels = ascii_name.split(".")
    if labels[-1].isdigit():
        raise HostNameError(f"{label} {shown!r} is an IP address or ends in a number; give a domain name.")
    if need_dot and len(labels) < 2:
        raise HostNameError(f"{label} {shown!r} has one label; give a full domain such as www.example.com.")
    for part in labels:
        scripts = mixed_scripts(idna.decode(part)) if part.startswith("xn--") else None
        if scripts:
            raise HostNameError(f"{label} {shown!r} mixes scripts in one label ({' and '.join(scripts)}): "
                                "letters that look alike may be of another alphabet.")
    return ascii_name


def check_address(local: str, domain: str) -> None:
    """HostNameError when an address's local part (``local_part_problem``) or its domain
    (``host_name``, when internationalised) is refused: the rules Herald adds to email-validator,
    whose ``local_part`` and ``domain`` are given."""
    problem = local_part_problem(local)
    if problem:
        raise HostNameError(problem)
    if not domain.isascii() or "xn--" in domain:
        host_name(domain, "the part after the @")


def local_part_problem(local: str) -> str | None:
    """Why the local part ``local`` (before the @) of an address is refused, or None: more than
    64 octets (RFC 5321 section 4.5.3.1.1), a character Unicode NFKC would write otherwise
    (full-width ``Ａ``, a ligature: the address is written with its usual characters instead,
    which the message names), or letters of several scripts (``mixed_scripts``)."""
    octets = len(local.encode("utf-8", "surrogatepass"))
    if octets > MAX_LOCAL_PART:
        return (f"the part before the @ is {octets} octets long; at most {MAX_LOCAL_PART} "
                "(RFC 5321 section 4.5.3.1.1)")
    usual = unicodedata.normalize("NFKC", local)
    if usual != local:
        return (f"the part before the @ has full-width or other compatibility characters "
                f"(write it {usual!r})")
    scripts = mixed_scripts(local)
    if scripts:
        return (f"the part before the @ mixes scripts ({' and '.join(scripts)}): letters that look "
                "alike may be of another alphabet")
    return None
