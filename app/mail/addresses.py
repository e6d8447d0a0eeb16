"""E-mail addresses: checked and normalised at every entry (email-validator), written for SMTP."""
import re
from dataclasses import dataclass
from email.utils import parseaddr
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_app_context

from ..core.hostnames import MAX_LOCAL_PART, HostNameError, check_address
from ..core.utils import normalise_email

# An unquoted ASCII addr-spec with a dot-atom local part and LDH domain labels: what nearly
# every stored address looks like. Anything else (quotes, non-ASCII, odd dots) is checked by
# email-validator before it reaches a header or an SMTP command.
_PLAIN_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                       r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
# Every address that comes in (registration, users, the API, CSV imports, the suppression list,
# settings, test sends) passes through ``normalise_address``; de-duplication and the suppression
# list compare ``app.core.utils.normalise_email`` (ASCII letters in lower case) of its result.
# On the way out, ``wire_address`` writes each address for MAIL FROM/RCPT TO and the headers.


class AddressError(ValueError):
    """An address the rules refuse; ``str(error)`` says why, in words for the person who typed it."""


@dataclass(frozen=True)
class WireAddress:
    """One address as it is sent: ``envelope`` for MAIL FROM/RCPT TO, ``header`` for To/From, and
    whether they need SMTPUTF8 (a non-ASCII local part; RFC 6531 section 3.2, RFC 6532)."""
    envelope: str
    header: str
    smtputf8: bool = False


def _test_domains() -> bool:
    """``.test`` domains (RFC 6761 section 6.2) are accepted outside production: tests and `make run`."""
    return has_app_context() and not current_app.config.get("PRODUCTION", False)


@lru_cache(maxsize=4096)
def _validated(text: str, test_domains: bool):
    return validate_email(text, check_deliverability=False, test_environment=test_domains)


def normalise_address(text) -> str:
    """``text`` (a bare address, surrounding spaces ignored) in the form Herald stores.

    The local part is kept as written (Unicode NFC), the domain lower-cased in Unicode (IDNA 2008
    / UTS #46): ``Bob@Example.COM`` -> ``Bob@example.com``, ``a@xn--bcher-kva.example`` ->
    ``a@bücher.example``. Raises AddressError (a ValueError) with a readable reason: empty,
    syntax (RFC 5322 section 3.4.1; no quoted local parts, no display names), more than 254
    octets (RFC 5321 section 4.5.3.1.3), a local part of more than 64 octets (section
    4.5.3.1.1), of full-width or other compatibility characters (``Ａ@example.com``: the message
    says to write ``A@example.com``) or of mixed scripts (a Cyrillic ``а`` in ``аdmin``;
    ``core.hostnames.local_part_problem``), a domain ``core.hostnames.host_name`` refuses
    (the one domain check: mixed scripts in a label), reserved domains (RFC 6761; ``.test`` is
    allowed outside production). docs/addresses.md says why.
    """
    text = str(text if text is not None else "").strip()
    if not text:
        raise AddressError("An e-mail address is required.")
    try:
        return _normalised(text, _test_domains())
    except (EmailNotValidError, HostNameError) as error:
        raise AddressError(f"{text} is not a valid e-mail address: {error}") from None


@lru_cache(maxsize=4096)
def _normalised(text: str, test_domains: bool) -> str:
    checked = _validated(text, test_domains)
    check_address(checked.local_part, checked.domain)
    return checked.normalized


def address_key(text) -> str:
    """What de-duplication, lookups and the suppression list compare: ``normalise_address`` with
    its ASCII letters in lower case (``core.utils.normalise_email``; ``a@XN--BCHER-KVA.example`` ->
    ``a@bücher.example``, whose domain IDNA's mapping has already folded; ``ΣΙΣΥΦΟΣ@Example.com``
    -> ``ΣΙΣΥΦΟΣ@example.com``), as SQL's ``lower(email)`` computes it on both databases; text
    that is no address is only trimmed and folded alike, so a lookup finds nothing instead of
    failing."""
    try:
        return normalise_email(normalise_address(text))
    except AddressError:
        return normalise_email(str(text or ""))


def _several(text: str) -> bool:
    """True when ``text`` lists addresses: a comma (or the semicolon many mail programs take for
    one, or that ends a group) outside quotes and angle brackets (RFC 5322 section 3.4)."""
    quoted, angle, escaped = False, 0, False
    for character in text:
        if escaped:
            escaped = False
        elif character == "\\" and quoted:
            escaped = True
        elif character == '"':
            quoted = not quoted
        elif not quoted and character in "<>":
            angle += 1 if character == "<" else -1
        elif not quoted and angle <= 0 and character in ",;":
            return True
    return False


_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')


def normalise_sender(text) -> str:
    """A sender such as ``Acme <Hello@Acme.example>`` or a bare address, its address normalised
    (``normalise_address``) and its name kept: ``Acme <Hello@acme.example>``. AddressError, also
    for several addresses (``a@b.example, c@d.example``: the first was kept without a word)."""
    text = str(text or "").strip()
    if _several(text):
        raise AddressError(f"{text[:80]} holds more than one address; give one sender.")
    name, address = parseaddr(text)
    address = normalise_address(address or text)
    name = " ".join(name.split())
    if _SPECIALS.search(name):  # RFC 5322 section 3.2.3: a display name with specials is quoted
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>" if name else address


def optional(normalise):
    """A settings validator: empty stays empty, anything else goes through ``normalise``."""
    def validate(value) -> str:
        text = str(value if value is not None else "").strip()
        return normalise(text) if text else ""
    return validate


def is_plain(address: str) -> bool:
    """True when ``address`` is a plain ASCII addr-spec (a dot-atom, LDH labels): written as it
    is in SMTP commands and headers. A quick shape check for the send loop, not every rule."""
    return address.isascii() and _PLAIN_RE.fullmatch(address) is not None


def stored_problem(address: str, key: bool = False) -> str | None:
    """What is wrong with an address stored before addresses were checked, or None: "not an
    address: ..." or "the rules write it Y" (``normalise_address``; in lower case with ``key``, as
    the suppression list keys it). Rows are reported (``flask check``), never rewritten. A plain
    address whose domain is lower case is checked by its length and its domain (email-validator,
    once per domain): about a microsecond."""
    domain = address.rpartition("@")[2]
    if (is_plain(address) and len(address) <= 254 and "xn--" not in domain
            and len(address) - len(domain) - 1 <= MAX_LOCAL_PART
            and (address if key else domain) == (address.lower() if key else domain.lower())
            and _domain_accepted(domain, _test_domains())):
        return None
    try:
        wanted = normalise_address(address)
    except AddressError as error:
        return f"not an address: {error}"
    wanted = normalise_email(wanted) if key else wanted
    return None if wanted == address else f"the rules write it {wanted!r}"


@lru_cache(maxsize=4096)
def _domain_accepted(domain: str, test_domains: bool) -> bool:
    try:
        _validated(f"postmaster@{domain}", test_domains)
    except EmailNotValidError:
        return False
    return True


def wire_address(address: str) -> WireAddress:
    """How a stored ``address`` is written in SMTP commands and headers.

    A plain ASCII address (``is_plain``) as it is; an internationalised domain as IDNA A-labels
    (punycode, RFC 5891), so the message needs no SMTPUTF8; a non-ASCII local part in UTF-8, which
    needs a server that offers SMTPUTF8 (RFC 6531 section 3.2) and UTF-8 headers (RFC 6532).
    Anything but a plain address is read by email-validator (once per address, cached), which
    raises AddressError when it is no address at all (a row stored before addresses were checked).
    """
    if is_plain(address):
        return WireAddress(address, address)
    try:
        checked = _validated(address.strip(), _test_domains())
    except EmailNotValidError as error:
        raise AddressError(f"{address!r} is not a valid e-mail address: {error}") from None
    if checked.ascii_email:
        return WireAddress(checked.ascii_email, checked.ascii_email)
    return WireAddress(f"{checked.local_part}@{checked.ascii_domain}", checked.normalized, True)
