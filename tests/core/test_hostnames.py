"""The one host-name check (app.core.hostnames): IDNA 2008, UTS #46 nontransitional, as browsers."""
import re

import pytest

from app.core.hostnames import HostNameError, host_name, mixed_scripts
from app.core.settings.services import SettingSpec, check


@pytest.mark.parametrize("text, stored", [
    ("Straße.DE", "xn--strae-oqa.de"),  # IDNA 2003 made it strasse.de, another domain
    ("bücher.example.", "xn--bcher-kva.example"), ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
    ("\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com", "example.com"),  # full-width: UTS #46 maps it
    ("東京.example", "xn--1lqs71d.example"), ("sites.herald.localhost", "sites.herald.localhost"),
])
def test_host_names_are_stored_as_browsers_look_them_up(text, stored):
    assert host_name(text) == stored


@pytest.mark.parametrize("text, why", [
    ("😀.example.com", "not a valid domain name"), ("xn--zz.com", "not a valid domain name"),
    ("ex\u200bample.com", "U+200B ZERO WIDTH SPACE"), ("ex\u00adample.com", "U+00AD SOFT HYPHEN"),
    ("\u0430pple.com", "mixes scripts in one label (Cyrillic and Latin)"),
    ("<b>x</b>", "not a valid domain name"), ("a..b.com", "not a valid domain name"),
    ("under_score.com", "not a valid domain name"), ("-lead.com", "not a valid domain name"),
    ("10.0.0.1", "IP address"), ("localhost", "one label"), ("a" * 64 + ".com", "not a valid domain name"),
    (("a" * 60 + ".") * 5 + "com", "too long"), ("", "required"),
])
def test_what_is_no_host_name_is_refused_with_the_reason(text, why):
    with pytest.raises(HostNameError, match=re.escape(why)):
        host_name(text)


def test_mixed_scripts_follow_uts_39_highly_restrictive():
    assert mixed_scripts("admin") is None and mixed_scripts("jörg") is None
    assert mixed_scripts("山田たろうタロウ") is None and mixed_scripts("mail東京") is None
    assert mixed_scripts("\u0430dmin") == ["Cyrillic", "Latin"]
    assert mixed_scripts("Ελλάδα") is None and mixed_scripts("paypaΙ") == ["Greek", "Latin"]


def test_url_and_host_settings_use_the_same_check(app):
    url = SettingSpec("x.url", "", "Link", type="url")
    assert check(url, "https://Bücher.example/a") == "https://Bücher.example/a"
    assert check(url, "http://127.0.0.1:5000/") == "http://127.0.0.1:5000/"
    assert check(url, "http://localhost:5000/") == "http://localhost:5000/"
    with pytest.raises(ValueError, match=re.escape("U+200B")):
        check(url, "https://ex\u200bample.com/")
    with pytest.raises(ValueError, match="not a valid domain name"):
        check(url, "https://😀.example.com/")
    host = SettingSpec("x.host", "", "Host", type="host")
    assert check(host, "Mail.Straße.de") == "mail.xn--strae-oqa.de"
    with pytest.raises(ValueError, match="Host '<b>x</b>' is not a valid domain name"):
        check(host, "<b>x</b>")
