"""Bodies quoted-printable encoded ahead of time equal the encoding of the filled body."""
import random
from email.utils import formataddr

from app.broadcasts.content import compile_template
from app.delivery.mime import EncodedBody, address, header_text, qp

PIECES = ["Hello ", "{{ name }}", "{{\n name }}", "\n", "\r\n", "\r", ".", "\n.\n", " ", "\t", "=", "é",
          "€ ", "x" * 90, "{{ url }}", "{{ missing }}", "<a href=\"{{ url }}\">", "  \n", "lorem ipsum "]
VALUES = [{"name": "Zoë <b>Quinn</b>", "url": "https://zoë.example/ü?a=1&b=2"},
          {"name": "A\nB\r\nC ", "url": "." + "y" * 100 + " "}, {"name": "", "url": ""}]


def test_encoded_bodies_equal_encoding_the_whole_body():
    rng = random.Random(8)
    for _ in range(400):
        source = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30)))
        for escape_html in (False, True):
            body = EncodedBody(source, escape_html)
            for values in VALUES:
                whole = compile_template(body.source).render(values, escape_html)
                assert body.render(values) == qp(whole), source


def test_fixed_lines_are_encoded_once():
    body = EncodedBody("fixed line é\n" * 3 + "Hi {{ name }}\n" + "tail =\n", False)
    assert [type(piece).__name__ for piece in body.pieces] == ["bytes", "CompiledTemplate", "bytes"]
    encoded = body.render({"name": "Zoë"})
    assert encoded.endswith(b"tail =3D\r\n") and b"Hi Zo=C3=AB\r\n" in encoded
    assert all(len(line) <= 76 for line in qp("w" * 500 + "\n").split(b"\r\n"))


def test_header_values_stay_on_one_line_and_ascii():
    assert header_text("Hello\r\nBcc: x@example.com") == "Hello Bcc: x@example.com"
    encoded = header_text("Nieuws voor Zoë")
    assert encoded.isascii() and encoded.startswith("=?utf-8?")
    assert address("Zoë Quinn", "zoe@example.com").endswith(" <zoe@example.com>")
    assert address("", "zoe@example.com") == "zoe@example.com"
    for name in ("Ada Lovelace", "A. B", 'Bo "The" Best', "x\\y", "Zoë (Q)", " Ada \r\n Bcc: x "):
        assert address(name, "a@example.com") == formataddr((" ".join(name.split()), "a@example.com"),
                                                            charset="utf-8")
