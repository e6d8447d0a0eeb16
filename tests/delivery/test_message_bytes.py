"""The bytes of one broadcast e-mail, joined from pieces prepared per chunk: parsed back by
Python's e-mail parser, personalised, tracked per recipient and the same as the filter path;
bodies encoded ahead of time decode to the filled body within quoted-printable's limits."""
import binascii
import random
import re
from email import policy
from email.header import decode_header, make_header
from email.parser import BytesParser
from email.utils import formataddr

from app.broadcasts.mail import BroadcastMessages
from app.mail.builder import Recipient
from app.mail.message_ids import tagger
from app.mail.mime import EncodedBody, address, header_text, qp
from app.mail.placeholders import compile_template
from app.mail.tokens import read_token
from app.tracking.links import read_click_token, read_open_token

from .conftest import make_run

BODY = ('<p>Dag {{ customer_name }}, nieuws voor {{ customer_email }}.</p>'
        '<p><a href="{{ site_url }}/blog">Uw blog</a> · <a href="https://example.org/news?a=1&amp;b=2">Nieuws</a></p>'
        + "<p>" + "Één lange regel met tekst. " * 40 + "</p>")
PEOPLE = [Recipient(11, "zoe@example.com", 3, "Zoë Ünal-Øster", "https://zoë.example.net"),
          Recipient(12, "bo@example.com", 4, "Bo \"The\" <Best>", "")]


def _factory(db, **options):
    from app.broadcasts.models import BroadcastRun

    run = make_run(subject="Nieuws voor {{ customer_first_name }} — november", body=BODY,
                   from_name="Team Ünicode", track_clicks=True, track_opens=True, **options)
    run = db.session.get(BroadcastRun, run.id)
    return run, BroadcastMessages(run.broadcast, run.id)


def test_messages_parse_back_with_their_personal_parts(app, db):
    from app.core.settings.services import set_option

    set_option("tracking.per_recipient", True)
    db.session.commit()
    run, factory = _factory(db)
    built = [factory.build(person) for person in PEOPLE]
    assert len({message_id for message_id, _, _ in built}) == 2
    for person, (message_id, envelope_from, data) in zip(PEOPLE, built):
        assert envelope_from == "noreply@herald.test"
        assert all(len(line) <= 998 for line in data.split(b"\r\n")) and b"\n" not in data.replace(b"\r\n", b"")
        message = BytesParser(policy=policy.default).parsebytes(data)
        assert not message.defects
        tag = tagger().tag(run.id, person.delivery_id)  # unguessable, the same on every retry
        assert message["Message-ID"] == message_id == f"<herald.{run.id}.{person.delivery_id}.{tag}@herald.test>"
        assert message["Subject"] == f"Nieuws voor {person.name.split()[0]} — november"
        assert message["To"].addresses[0].display_name == person.name
        assert message["To"].addresses[0].addr_spec == person.email
        assert message["From"].addresses[0].display_name == "Team Ünicode"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        mailto, https = [part.strip().strip("<>") for part in message["List-Unsubscribe"].split(",")]
        token = https.rsplit("/", 1)[1]
        assert read_token("unsubscribe", token) == [person.email, run.id] and mailto.endswith(token)

        text, html = message.iter_parts()
        assert text["Content-Transfer-Encoding"] == html["Content-Transfer-Encoding"] == "quoted-printable"
        encoded_lines = [line for part in (text, html) for line in part.get_payload().splitlines()]
        assert max(len(line) for line in encoded_lines) <= 76
        text_body, html_body = text.get_content(), html.get_content()
        assert f"Dag {person.name}, nieuws voor {person.email}." in text_body
        assert "Één lange regel met tekst. " * 5 in " ".join(text_body.split()) + " " and https in text_body
        assert f"Dag {person.name.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;').replace(chr(34), '&quot;')}," in html_body

        clicks = re.findall(r'href="http://herald.test/t/c/([^"/]+)/([^"]+)"', html_body)
        assert {read_open_token(recipient) for _, recipient in clicks} == {(run.id, person.delivery_id)}
        targets = {read_click_token(link, recipient)[2] for link, recipient in clicks}
        assert "https://example.org/news?a=1&b=2" in targets
        assert (f"{person.site_url}/blog" in targets) == bool(person.site_url)
        pixel = re.search(r'src="http://herald.test/t/o/([^"]+)\.gif"', html_body).group(1)
        assert read_open_token(pixel) == (run.id, person.delivery_id)
        assert f'href="{https}"' in html_body  # the layout's unsubscribe link, not redirected


def test_prepared_pieces_give_the_message_of_the_filter_path(app, db):
    run, factory = _factory(db, reply_to="help@example.org")

    def undated(raw: bytes) -> bytes:  # the builds may fall in different seconds
        return re.sub(rb"^Date: [^\r]*\r\n", b"", raw)
    for person in PEOPLE:
        _, _, data = factory.build(person)
        composed = factory.template.to_bytes(factory.compose(person))
        fast, filtered = (BytesParser(policy=policy.default).parsebytes(undated(raw)) for raw in (data, composed))
        assert fast.items() == filtered.items()
        assert undated(data).split(b"\r\n\r\n", 1)[0] == undated(composed).split(b"\r\n\r\n", 1)[0]
        assert [part.get_content() for part in fast.iter_parts()] == \
            [part.get_content() for part in filtered.iter_parts()]


PIECES = ["Hello ", "{{ name }}", "{{\n name }}", "{{ name | default('x \u00e9') }}",
          "{{ url|default(\"\n\") }}", "\n", "\r\n", "\r", ".", "\n.\n", " ", "\t", "=", "é",
          "€ ", "x" * 90, "{{ url }}", "{{ missing }}", "<a href=\"{{ url }}\">", "  \n", "lorem ipsum "]
VALUES = [{"name": "Zoë <b>Quinn</b>", "url": "https://zoë.example/ü?a=1&b=2"},
          {"name": "A\nB\r\nC ", "url": "." + "y" * 100 + " "}, {"name": "", "url": ""}]


def test_encoded_bodies_decode_to_the_whole_body_within_the_line_limits():
    rng = random.Random(8)
    for _ in range(400):
        source = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30)))
        for escape_html in (False, True):
            body = EncodedBody(source, escape_html)
            for values in VALUES:
                whole = body.template.render(values, escape_html)
                assert body.template == compile_template(source.replace("\r\n", "\n").replace("\r", "\n"))
                encoded = body.render(values)
                assert binascii.a2b_qp(encoded) == binascii.a2b_qp(qp(whole)), source
                lines = encoded.split(b"\r\n")
                assert encoded.endswith(b"\r\n") and b"\n" not in encoded.replace(b"\r\n", b"")
                # RFC 2045 section 6.7: at most 76 characters, no white space ending a line
                assert all(len(line) <= 76 and not line.endswith((b" ", b"\t")) for line in lines), source
                assert not any(line.startswith(b".") for line in lines), "no dot-stuffing needed"
                assert re.fullmatch(rb"([\x21-\x3c\x3e-\x7e \t]|=[0-9A-F]{2}|=\r\n|\r\n)*", encoded), source


def test_literal_text_is_encoded_once_and_values_alone():
    body = EncodedBody("fixed line é\n" * 3 + "Hi {{ name }}!\n" + "tail =\n", False)
    assert [type(piece).__name__ for piece in body.pieces] == ["bytes", "tuple", "bytes"]
    encoded = body.render({"name": "Zoë"})
    assert encoded.endswith(b"tail =3D\r\n") and b"Hi =\r\nZo=C3=AB=\r\n!\r\n" in encoded
    assert body.render({"name": "Ann"}).count(b"Ann=\r\n") == 1  # ASCII values are copied as they are
    assert all(len(line) <= 76 for line in qp("w" * 500 + "\n").split(b"\r\n"))
    long = EncodedBody("{{ url }}", True).render({"url": "https://x.example/?" + "a=1&" * 60})
    assert all(len(line) <= 76 for line in long.split(b"\r\n"))
    assert binascii.a2b_qp(long) == ("https://x.example/?" + "a=1&amp;" * 60 + "\r\n").encode()


def test_header_values_stay_on_one_line_and_ascii():
    assert header_text("Hello\r\nBcc: x@example.com") == "Hello Bcc: x@example.com"
    encoded = header_text("Nieuws voor Zoë")
    assert encoded.isascii() and encoded.startswith("=?utf-8?")
    assert address("Zoë Quinn", "zoe@example.com").endswith(" <zoe@example.com>")
    assert address("", "zoe@example.com") == "zoe@example.com"
    for name in ("Ada Lovelace", "A. B", 'Bo "The" Best', "x\\y", "Zoë (Q)", " Ada \r\n Bcc: x "):
        assert address(name, "a@example.com") == formataddr((" ".join(name.split()), "a@example.com"),
                                                            charset="utf-8")


def test_long_names_and_encoded_word_lookalikes_are_encoded_and_folded(app, db):
    """RFC 5322 section 2.1.1 (lines of at most 998 characters) and RFC 2047 section 5 (text that
    looks like an encoded-word is encoded, else mail programs decode it)."""
    run, factory = _factory(db)
    long_name, lookalike = "W" * 5000, "=?utf-8?q?encoded?= word"
    for name in (long_name, lookalike, "Zoë " + "é" * 300):
        _, _, data = factory.build(Recipient(21, "long@example.com", 9, name, ""))
        head = data.split(b"\r\n\r\n", 1)[0]
        assert all(len(line) <= 998 for line in head.split(b"\r\n")) and head.isascii()
        message = BytesParser(policy=policy.default).parsebytes(data)
        raw_to = BytesParser(policy=policy.compat32).parsebytes(data)["To"]
        # decoded as RFC 2047 section 6.2 says (Python's address parser puts a space between words)
        assert str(make_header(decode_header(raw_to))) == f"{name} <long@example.com>"
        assert message["To"].addresses[0].addr_spec == "long@example.com"
        assert message["Subject"] == f"Nieuws voor {name.split()[0]} — november"
    assert header_text("x" * 2000).startswith("=?utf-8?") and header_text("=?a?b?c?=") != "=?a?b?c?="
