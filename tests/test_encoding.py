"""decode_html: declarations are trusted only when they hold."""

from __future__ import annotations

import pytest

from tests.pages import article_html, paragraphs
from worker.encoding import charset_from_content_type, decode_html

FRENCH = (
    "<p>Le ministre a déclaré à la presse que l’économie française connaîtrait "
    "une croissance modérée; « c’est une étape », a-t-il ajouté — selon l’AFP.</p>"
)
JAPANESE = "<p>東京都は今日、新しい防災計画を発表した。専門家は評価している。</p>"


def page(body: str, head: str = "") -> str:
    return f"<html><head>{head}<title>t</title></head><body>{body}</body></html>"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text/html; charset=UTF-8", "utf-8"),
        ('text/html; charset="utf-8"', "utf-8"),
        ("text/html; charset=ISO-8859-1", "cp1252"),
        ("text/html;charset=latin1", "cp1252"),
        ("text/html; charset=Shift_JIS", "cp932"),
        ("text/html", None),
        (None, None),
        ("", None),
        ("text/html; charset=no-such-charset", None),
    ],
)
def test_charset_from_content_type(value: str | None, expected: str | None) -> None:
    assert charset_from_content_type(value) == expected


def test_honest_utf8_header() -> None:
    html = page(FRENCH)
    assert decode_html(html.encode("utf-8"), "text/html; charset=utf-8") == html


def test_header_says_utf8_but_body_is_cp1252() -> None:
    html = page(FRENCH)
    assert decode_html(html.encode("cp1252"), "text/html; charset=utf-8") == html


def test_header_says_cp1252_but_body_is_utf8() -> None:
    html = page(FRENCH)
    assert decode_html(html.encode("utf-8"), "text/html; charset=windows-1252") == html


def test_latin1_declared_is_read_as_cp1252() -> None:
    # Curly quotes and the em dash live in cp1252's 0x80-0x9F block, which
    # real latin-1 maps to invisible control characters.
    html = page(FRENCH)
    text = decode_html(html.encode("cp1252"), "text/html; charset=iso-8859-1")
    assert text == html
    assert "’" in text and "—" in text


def test_meta_charset_used_when_header_has_none() -> None:
    html = page(JAPANESE, '<meta charset="shift_jis">')
    assert decode_html(html.encode("shift_jis"), "text/html") == html


def test_meta_http_equiv_charset() -> None:
    html = page(
        FRENCH, '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
    )
    assert decode_html(html.encode("cp1252")) == html


def test_lying_header_and_lying_meta() -> None:
    # Header says utf-8, meta says shift_jis, body is really cp1252.
    html = page(FRENCH * 3, '<meta charset="shift_jis">')
    assert decode_html(html.encode("cp1252"), "text/html; charset=utf-8") == html


def test_meta_says_shift_jis_but_body_is_utf8() -> None:
    html = page(FRENCH, '<meta charset="shift_jis">')
    assert decode_html(html.encode("utf-8")) == html


def test_meta_claiming_utf16_read_as_utf8() -> None:
    html = page(FRENCH, '<meta charset="utf-16">')
    assert decode_html(html.encode("utf-8")) == html


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "utf-16-be"])
def test_byte_order_mark_wins_over_header(codec: str) -> None:
    html = page(JAPANESE)
    assert decode_html(html.encode(codec), "text/html; charset=iso-8859-1") == html


def test_no_declaration_western_text_prefers_cp1252() -> None:
    # cp1250 and cp1252 tie on this text; "à" is 0xE0, which cp1250 reads as "ŕ".
    html = page(FRENCH.replace("la presse", "la presse à Paris") * 2)
    assert decode_html(html.encode("cp1252")) == html


def test_no_declaration_cyrillic_detected() -> None:
    html = page("<p>Президент заявил журналистам, что реформа вступит в силу летом.</p>" * 3)
    assert decode_html(html.encode("cp1251")) == html


def test_no_declaration_detected() -> None:
    html = page(JAPANESE * 4)
    assert decode_html(html.encode("euc_jp")) == html


def test_undecodable_garbage_does_not_raise() -> None:
    text = decode_html(bytes(range(256)) * 4, "text/html; charset=utf-8")
    assert isinstance(text, str) and len(text) > 0


def test_empty_body() -> None:
    assert decode_html(b"", "text/html; charset=utf-8") == ""


def test_unknown_declared_charset_falls_back() -> None:
    html = page(FRENCH)
    assert decode_html(html.encode("utf-8"), "text/html; charset=x-made-up") == html


def geneva_page() -> str:
    """A utf-8 news page declaring utf-8 in its <meta>, with a NUL where a stray byte goes."""
    html = article_html(
        title="Genève: la conférence s’ouvre",
        paragraphs=["La conférence de Genève s’ouvre demain.", *paragraphs("Genève", 3)],
    )
    return html.replace("</main>", "<!-- \x00 --></main>")


def test_agreeing_declarations_survive_one_stray_byte() -> None:
    # Header and meta agree on utf-8; one invalid byte in a comment must cost one
    # replacement character, not send the page to detection and turn it into mojibake.
    html = geneva_page()
    body = html.encode("utf-8").replace(b"\x00", b"\xff")
    text = decode_html(body, "text/html; charset=utf-8")
    assert text == html.replace("\x00", "\ufffd")
    assert "<h1>Genève: la conférence s’ouvre</h1>" in text


def test_agreeing_legacy_declarations_survive_one_stray_byte() -> None:
    # 0x81 is undefined in cp1252: the agreed charset still decodes the rest.
    html = page(FRENCH + "<!-- \x00 -->", '<meta charset="windows-1252">')
    body = html.encode("cp1252").replace(b"\x00", b"\x81")
    text = decode_html(body, "text/html; charset=windows-1252")
    assert text == html.replace("\x00", "\ufffd")


def test_agreeing_legacy_declarations_lose_to_valid_utf8() -> None:
    # Valid multi-byte utf-8 does not happen by chance in legacy text, so it still wins.
    html = page(FRENCH, '<meta charset="iso-8859-1">')
    assert decode_html(html.encode("utf-8"), "text/html; charset=iso-8859-1") == html
