"""Fake-camera videos of real cards in poor light: the input of bench/bench_capture.py.

A card is printed with the project's own renderer (cardservice.printing, the PDF a clerk
prints), its back rasterised with pdfium, then photographed the way a phone in a dim office
would: held slightly tilted (a few degrees of rotation and keystone), out of focus (Gaussian
blur of 1 or 1.5 pixels), in dim light (paper black at 15 %, paper white at 45 % of full scale)
with sensor noise. The result is scaled so that the QR code is a given number of pixels across
in the camera's frame (or so that the card is at a given distance: pixels per millimetre), and
written as a YUV4MPEG2 file that Chromium plays as its camera:

    chromium --use-fake-device-for-media-stream --use-file-for-fake-video-capture=card.y4m

Each of the 20 frames of a file is a separate shot (its own tilt, position and noise) and
carries its number in a strip of black and white squares in the top left corner, away from the
card, so the benchmark knows which shot a decoded frame was.

    .venv/bin/python bench/capture/degrade.py /tmp/capture --card v9 --code-px 150 --blur 1.5
    .venv/bin/python bench/capture/degrade.py /tmp/capture --card longest --png   # look at it
    .venv/bin/python bench/capture/degrade.py /tmp/cards --pdf-only   # the cards, for --pdf-dir

Every run with the same arguments writes the same file (seeded random numbers).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pypdfium2 as pdfium
import zxingcpp
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from cardformat import Card, generate_key, sign_card
from cardservice.printing import PrintableCard, render_card_pdf

# Names and status indexes that give the two QR sizes the issue measures: a typical name
# (version 9) and the longest the card format accepts (100 UTF-8 bytes, version 11), both with
# the largest status index (the most CBOR bytes a card can have there).
CARDS = {
    "v9": "Fatima-Zahra Benali El Idrissi",
    "longest": (
        "Maria da Conceição Albuquerque de Vasconcelos Pereira dos Santos "
        "Ferreira da Silva Nogueira Mattos"
    ),
}
STATUS_INDEX = 2**32 - 1
CARD_NUMBER = "PFH8-BZ1"  # any valid number: its digits do not change the code's size
ISSUED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

FRAME_W, FRAME_H = 1920, 1080  # a phone's 1080p stream (the default)
FRAMES = 20
FPS = 4  # each shot stays 250 ms on the fake camera, enough for one decode
SUPERSAMPLE = 4  # render finer than the frame, then average: what a sensor does
BLACK, WHITE = 0.15, 0.45  # dim light: paper black and paper white as fractions of full scale
NOISE = 4.0  # sensor noise, standard deviation in 8-bit levels after the dimming
DESK = 70  # the table under the card, before the dimming
MARKER = 24  # side of one square of the frame-number strip, in pixels
MARKER_BITS = 6


@dataclass(frozen=True)
class PrintedCard:
    name: str
    qr_text: str
    pdf: bytes


def save_card(card: PrintedCard, folder: Path, kind: str) -> None:
    """Keep a card to measure it later, e.g. one printed by another version of the renderer."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{kind}.pdf").write_bytes(card.pdf)
    (folder / f"{kind}.json").write_text(json.dumps({"name": card.name, "qr_text": card.qr_text}))


def load_card(folder: Path, kind: str) -> PrintedCard:
    info = json.loads((folder / f"{kind}.json").read_text())
    return PrintedCard(
        name=info["name"], qr_text=info["qr_text"], pdf=(folder / f"{kind}.pdf").read_bytes()
    )


def printed_card(kind: str) -> PrintedCard:
    """A real card PDF (card-printer layout) with a real signed token."""
    name = CARDS[kind]
    number = CARD_NUMBER
    token = sign_card(
        Card(
            number=number, holder_name=name, birth_date=date(1988, 2, 29), status_index=STATUS_INDEX
        ),
        issuer="FR SXB",
        signing_key=generate_key(),
        now=ISSUED,
        expires_at=ISSUED + timedelta(days=5 * 365),
    )
    card = PrintableCard(
        city_name="Strasbourg",
        holder_name=name,
        birth_date=date(1988, 2, 29),
        gender_marker=None,
        number=number,
        expires=(ISSUED + timedelta(days=5 * 365)).date(),
        photo=None,
        qr_text=token,
        issuer_code="FR SXB",
    )
    return PrintedCard(name=name, qr_text=token, pdf=render_card_pdf(card, layout="card"))


@dataclass(frozen=True)
class Back:
    """The card's back rasterised, and where its QR code is in that image."""

    image: Image.Image  # greyscale
    px_per_mm: float
    code_box: tuple[float, float, float, float]  # left, top, right, bottom in pixels
    code_mm: float  # printed width of the code


def render_back(pdf: bytes, px_per_mm: float) -> Back:
    """Rasterise page 2 (the back, with its bleed) and find the code in it with zxing-cpp."""
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[1]
        bitmap = page.render(scale=px_per_mm * 25.4 / 72, grayscale=True)
        image = bitmap.to_pil().convert("L")
    finally:
        document.close()
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    if len(found) != 1:
        raise SystemExit("the rendered back does not hold exactly one readable QR code")
    pos = found[0].position
    xs = [pos.top_left.x, pos.top_right.x, pos.bottom_left.x, pos.bottom_right.x]
    ys = [pos.top_left.y, pos.top_right.y, pos.bottom_left.y, pos.bottom_right.y]
    box = (min(xs), min(ys), max(xs) + 1, max(ys) + 1)
    return Back(
        image=image,
        px_per_mm=px_per_mm,
        code_box=box,
        code_mm=(box[2] - box[0]) / px_per_mm,
    )


def code_width_mm(pdf: bytes) -> float:
    """The printed width of the card's code, measured on a 600 dpi raster."""
    return render_back(pdf, 600 / 25.4).code_mm


@dataclass(frozen=True)
class Shot:
    """How one frame is taken."""

    blur: float  # Gaussian blur, standard deviation in frame pixels
    rotation: float  # degrees, in the card's plane
    keystone: float  # fraction by which the far edge looks shorter (the card tilted away)
    keystone_side: int  # 0 top, 1 right, 2 bottom, 3 left: which edge is farther
    offset: tuple[float, float]  # code centre minus frame centre, in pixels
    seed: int


def shots(blur: float, seed: int, count: int = FRAMES) -> Iterator[Shot]:
    rng = random.Random(seed)
    for _ in range(count):
        yield Shot(
            blur=blur,
            rotation=rng.uniform(-5.0, 5.0),
            keystone=rng.uniform(0.0, 0.06),
            keystone_side=rng.randrange(4),
            offset=(rng.uniform(-60.0, 60.0), rng.uniform(-50.0, 50.0)),
            seed=rng.randrange(2**31),
        )


def _tilted(card: Image.Image, shot: Shot) -> Image.Image:
    """The card (with an alpha channel) rotated and seen at a slant, on a transparent canvas."""
    w, h = card.size
    rgba = Image.merge("LA", (card, Image.new("L", card.size, 255)))
    # Keystone: the output rectangle samples a source quadrilateral wider at the far edge, so
    # that edge comes out shorter. Corners: upper left, lower left, lower right, upper right.
    k = shot.keystone
    dx, dy = w * k / 2, h * k / 2
    quads = {
        0: (-dx, 0, 0, h, w, h, w + dx, 0),
        1: (0, 0, 0, h, w, h + dy, w, -dy),
        2: (0, 0, -dx, h, w + dx, h, w, 0),
        3: (0, -dy, 0, h + dy, w, h, w, 0),
    }
    slanted = rgba.transform(
        (w, h), Image.Transform.QUAD, quads[shot.keystone_side], Image.Resampling.BICUBIC
    )
    return slanted.rotate(shot.rotation, Image.Resampling.BICUBIC, expand=True)


def frame(
    back: Back, scale: float, shot: Shot, index: int, size: tuple[int, int] = (FRAME_W, FRAME_H)
) -> Image.Image:
    """One camera frame (greyscale, of ``size``): the back at ``scale`` frame pixels per raster
    pixel of ``back``, degraded as ``shot`` says, with the frame number in the corner."""
    tilted = _tilted(back.image, shot)
    # Where the code's centre lands after rotation (about the image centre, expand=True).
    cx = (back.code_box[0] + back.code_box[2]) / 2 - back.image.width / 2
    cy = (back.code_box[1] + back.code_box[3]) / 2 - back.image.height / 2
    angle = math.radians(shot.rotation)
    rx = cx * math.cos(angle) + cy * math.sin(angle) + tilted.width / 2
    ry = -cx * math.sin(angle) + cy * math.cos(angle) + tilted.height / 2
    scaled = (max(1, round(tilted.width * scale)), max(1, round(tilted.height * scale)))
    small = tilted.resize(scaled, Image.Resampling.BOX)  # area average, like sensor pixels
    width, height = size
    canvas = Image.new("L", size, DESK)
    left = round(width / 2 + shot.offset[0] - rx * scale)
    top = round(height / 2 + shot.offset[1] - ry * scale)
    canvas.paste(small.getchannel("L"), (left, top), small.getchannel("A"))
    blurred = canvas.filter(ImageFilter.GaussianBlur(shot.blur))
    dim = blurred.point([round(255 * (BLACK + (WHITE - BLACK) * v / 255)) for v in range(256)])
    noise = _noise(shot.seed, size)
    noisy = ImageChops.add(dim, noise, scale=1.0, offset=-128)
    _mark(noisy, index)
    return noisy


def _noise(seed: int, size: tuple[int, int]) -> Image.Image:
    """Gaussian noise around 128; PIL's generator is not seedable, so shift a seeded tile."""
    # effect_noise draws from C's rand(): a fixed pattern per process at best. A seeded offset
    # into a larger field keeps each shot's noise distinct and each run's output the same.
    rng = random.Random(seed)
    field = _noise_field()
    x, y = rng.randrange(field.width - size[0]), rng.randrange(field.height - size[1])
    return field.crop((x, y, x + size[0], y + size[1]))


_FIELD: list[Image.Image] = []


def _noise_field() -> Image.Image:
    if not _FIELD:
        rng = random.Random(20261206)
        w, h = FRAME_W + 257, FRAME_H + 131
        data = bytes(max(0, min(255, round(rng.gauss(128, NOISE)))) for _ in range(w * h))
        _FIELD.append(Image.frombytes("L", (w, h), data))
    return _FIELD[0]


def _mark(image: Image.Image, index: int) -> None:
    """The frame number as MARKER_BITS squares (white = 1, most significant first) after a
    white start square, on black, in the top left corner."""
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, MARKER * (MARKER_BITS + 2), MARKER * 2), fill=0)
    bits = [1] + [(index >> (MARKER_BITS - 1 - i)) & 1 for i in range(MARKER_BITS)]
    for i, bit in enumerate(bits):
        x = MARKER // 2 + i * MARKER
        if bit:
            draw.rectangle((x, MARKER // 2, x + MARKER - 1, MARKER // 2 + MARKER - 1), fill=255)


def write_y4m(path: Path, frames: list[Image.Image], fps: int = FPS) -> None:
    """YUV4MPEG2, 4:2:0, grey chroma: what Chromium's fake camera plays (in a loop)."""
    w, h = frames[0].size
    chroma = bytes([128]) * ((w // 2) * (h // 2))
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for image in frames:
            fh.write(b"FRAME\n")
            fh.write(image.tobytes())
            fh.write(chroma)
            fh.write(chroma)


@dataclass(frozen=True)
class Video:
    path: Path
    qr_text: str
    code_px: float  # width of the code in the frame, before tilt
    code_mm: float  # printed width of the code
    size: tuple[int, int]  # the frame's


def make_video(
    out: Path,
    card: PrintedCard,
    *,
    blur: float,
    code_px: float | None = None,
    px_per_mm: float | None = None,
    seed: int = 1,
    frames: int = FRAMES,
    size: tuple[int, int] = (FRAME_W, FRAME_H),
    png: bool = False,
) -> Video:
    """Write the video of ``card`` (``frames`` shots, 20 for the benchmark) to ``out`` (a .y4m
    path). Give either the code's width in frame pixels or the card's distance as frame pixels
    per millimetre."""
    if (code_px is None) == (px_per_mm is None):
        raise ValueError("give code_px or px_per_mm")
    probe = render_back(card.pdf, 600 / 25.4)
    target = px_per_mm if px_per_mm is not None else code_px / probe.code_mm  # type: ignore[operator]
    back = render_back(card.pdf, target * SUPERSAMPLE)
    shot_list = shots(blur, seed, frames)
    images = [frame(back, 1 / SUPERSAMPLE, shot, i, size) for i, shot in enumerate(shot_list)]
    write_y4m(out, images)
    if png:
        images[0].save(out.with_suffix(".png"))
    return Video(
        path=out,
        qr_text=card.qr_text,
        code_px=probe.code_mm * target,
        code_mm=probe.code_mm,
        size=size,
    )


def frame_size(text: str) -> tuple[int, int]:
    """Parse "1920x1080"; at most the default frame's size (the noise field is made for it)."""
    width, _, height = text.partition("x")
    size = (int(width), int(height))
    if not (64 <= size[0] <= FRAME_W and 64 <= size[1] <= FRAME_H):
        raise ValueError(f"frame size {text}: from 64x64 to {FRAME_W}x{FRAME_H}")
    return size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the .y4m (and .json) files")
    parser.add_argument("--card", choices=sorted(CARDS), default="v9")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--code-px", type=float, help="QR code width in the frame (default 175)")
    size.add_argument("--px-per-mm", type=float, help="card distance: frame pixels per mm")
    parser.add_argument("--blur", type=float, default=1.0, help="Gaussian blur in pixels")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--frame", default=f"{FRAME_W}x{FRAME_H}", help="camera frame size")
    parser.add_argument("--png", action="store_true", help="also save the first frame as PNG")
    parser.add_argument(
        "--pdf-only", action="store_true", help="only print the cards (<out>/<card>.pdf, .json)"
    )
    args = parser.parse_args(argv)
    if args.pdf_only:
        for kind in CARDS:
            save_card(printed_card(kind), args.out, kind)
        print(f"cards printed into {args.out}")
        return
    code_px = args.code_px or (None if args.px_per_mm else 175.0)
    args.out.mkdir(parents=True, exist_ok=True)
    label = f"{args.card}-{code_px or args.px_per_mm}-blur{args.blur}"
    video = make_video(
        args.out / f"{label}.y4m",
        printed_card(args.card),
        blur=args.blur,
        code_px=code_px,
        px_per_mm=args.px_per_mm,
        seed=args.seed,
        size=frame_size(args.frame),
        png=args.png,
    )
    info = {"qr_text": video.qr_text, "code_px": video.code_px, "code_mm": video.code_mm}
    (args.out / f"{label}.json").write_text(json.dumps(info, indent=2))
    print(f"{video.path}: code {video.code_px:.0f} px across ({video.code_mm:.1f} mm printed)")


if __name__ == "__main__":
    main()
