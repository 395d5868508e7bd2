"""Names in every script print with real glyphs, Arabic shaped and right to left.

Three proofs for each script:
- no glyph drawn is .notdef (glyph 0) in the font that draws it;
- rasterised, the name differs from the same name forced into a font that lacks its glyphs
  (the "tofu" rendering), and it has ink;
- pdfium finds the name in the card's front page text.
"""

from __future__ import annotations

import io
import unicodedata
from concurrent.futures import ThreadPoolExecutor

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageChops
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from cardservice.printing import _fonts, _text, render_card_pdf, unsupported_characters

NAMES = {
    "latin": "Zoë Łukasiewicz-Ñúñez",
    "vietnamese": "Nguyễn Thị Minh Khai",
    "yoruba-combining": "Adébáyọ̀ Olúwaseun",
    "cyrillic": "Анна Сергеевна Каренина",
    "greek": "Σωκράτης Παπαδόπουλος",
    "arabic": "محمد عبد الله الحسن",
    "persian": "پریسا رضایی",
    "hebrew": "דוד כהן",
    "chinese": "李小龍",
    "japanese": "山田 はなこ",
    "korean": "김민준",
    "devanagari": "अनीता शर्मा",
    "ethiopic": "ሰላም ተስፋዬ",
    "malayalam": "അരുൺ നായർ",
    "malayalam-chillu-zwj": "അന്‍വർ സാദത്ത്",
    "tamil": "கமலா செல்வம்",
    "bengali": "রবীন্দ্রনাথ ঠাকুর",
    "gujarati": "મહેશ પટેલ",
    "gurmukhi": "ਹਰਪ੍ਰੀਤ ਸਿੰਘ",
    "telugu": "శ్రీనివాస్ రెడ్డి",
    "kannada": "ಕೃಷ್ಣ ಗೌಡ",
    "oriya": "ସୁଭାଷ ମହାପାତ୍ର",
    "sinhala": "නිමල් පෙරේරා",
    "thai": "สมชาย ใจดี",
    "lao": "ສົມພອນ ແກ້ວ",
    "khmer": "សុខ ចាន់ដារ៉ា",
    "myanmar": "အောင် ဆန်း",
    "armenian": "Արամ Խաչատրյան",
    "georgian": "ნინო ბერიძე",
}


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _raster(draw) -> Image.Image:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=(400, 40))
    draw(canvas)
    canvas.save()
    doc = pdfium.PdfDocument(buf.getvalue())
    try:
        page = doc[0]
        bitmap = page.render(scale=2)
        image = bitmap.to_pil().convert("L")
        bitmap.close()
        page.close()
        return image
    finally:
        doc.close()


def _ink(image: Image.Image) -> int:
    return image.point(lambda v: 1 if v < 128 else 0).histogram()[1]


def _tofu_font(name: str) -> str:
    """A shipped font that has none of the name's letters."""
    letters = {ord(ch) for ch in name if unicodedata.category(ch).startswith("L")}
    for file in _fonts.CHAINS["regular"]:
        font = _fonts.load(file)
        if not letters & font.cmap:
            return font.name
    raise AssertionError("every shipped font covers some of these letters")


@pytest.mark.parametrize("script", NAMES)
def test_no_notdef_glyph(script: str) -> None:
    name = NAMES[script]
    assert unsupported_characters(name) == ""
    line = _text.shape_line(name, "bold")
    assert line.runs
    for run in line.runs:
        face = pdfmetrics.getFont(run.font).face
        glyphs = [face.charToGlyph.get(ord(ch), 0) for ch in run.text]
        assert 0 not in glyphs, (script, run.font, run.text)


@pytest.mark.parametrize("script", NAMES)
def test_renders_differently_from_tofu(script: str) -> None:
    name = NAMES[script]
    line = _text.shape_line(name, "bold")
    ours = _raster(lambda c: _text.draw_line(c, line, 10, 12, 16))
    tofu_font = _tofu_font(name)

    def tofu(canvas: Canvas) -> None:
        canvas.setFont(tofu_font, 16)
        canvas.drawString(10, 12, name)

    theirs = _raster(tofu)
    assert _ink(ours) > 200
    different = _ink(ImageChops.difference(ours, theirs).point(lambda v: 255 - v))
    assert different > 0.3 * _ink(ours)


def test_arabic_is_shaped_and_right_to_left() -> None:
    name = NAMES["arabic"]
    (run,) = _text.shape_line(name, "bold").runs
    # Shaped: joining forms (presentation forms or glyphs without a code point), not the
    # isolated letters of the input.
    contextual = [ch for ch in run.text if 0xFB50 <= ord(ch) <= 0xFEFF or ord(ch) >= 0xE000]
    assert len(contextual) >= len(name.replace(" ", "")) // 2
    # Right to left: the glyphs are stored in visual order, the reverse of the logical one.
    assert _nfkc("".join(reversed(run.text))) == _nfkc(name)
    # And the joined word is narrower than its letters set apart.
    apart = sum(_text.shape_line(ch, "bold").units for ch in name)
    assert run.units < apart


def test_muhammad_is_not_turned_into_the_honorific_ligature() -> None:
    (run,) = _text.shape_line("محمد", "bold").runs
    assert "\ufdf4" not in run.text
    assert len(run.text) == 4


def test_mixed_directions_are_reordered() -> None:
    # Logical "Ali", Arabic word, number. Visual, left to right (UBA): "Ali ", then the Arabic
    # level run reversed as a whole: the number (which follows the Arabic word, so takes its
    # direction) comes before the word.
    line = _text.shape_line("Ali محمد 12", "bold")
    assert not line.rtl
    assert [r.text for r in line.runs[:2]] == ["Ali ", "12"]
    assert _nfkc("".join(reversed(line.runs[2].text))).strip() == "محمد"

    rtl = _text.shape_line("محمد Ali", "bold")
    assert rtl.rtl
    assert rtl.runs[0].text == "Ali"
    assert _nfkc("".join(reversed(rtl.runs[1].text))).strip() == "محمد"


@pytest.mark.parametrize("script", ["latin", "cyrillic", "greek", "arabic", "chinese", "korean"])
def test_name_is_found_in_the_card_text(script: str, make_card, open_pdf) -> None:  # type: ignore[no-untyped-def]
    card = make_card(holder_name=NAMES[script])
    pdf = open_pdf(render_card_pdf(card))
    assert _nfkc(NAMES[script]) in _nfkc(pdf.text(0))


def test_unsupported_characters_are_reported() -> None:
    assert unsupported_characters("Ana \U0001f600 \U00013000x\u200d") == "\U0001f600\U00013000"
    assert unsupported_characters("Ana María") == ""


def test_concurrent_rendering_keeps_each_name(make_card, open_pdf) -> None:  # type: ignore[no-untyped-def]
    # Shaping allocates private code points on shared font objects: threads must not mix them.
    names = ["محمد الحسن", "سلمى يوسف", "李小龍", "김민준", "Анна", "عبد الله"] * 2
    cards = [make_card(holder_name=n, photo=None) for n in names]
    with ThreadPoolExecutor(max_workers=4) as pool:
        pdfs = list(pool.map(render_card_pdf, cards))
    for name, data in zip(names, pdfs, strict=True):
        assert _nfkc(name) in _nfkc(open_pdf(data).text(0))
