"""The card's QR code: encoded with the ``qrcode`` package (alphanumeric mode, error correction M)
and handed to the layout as rows of "0"/"1" so it can be drawn as vector rectangles.

``qrcode`` picks the mask the standard asks for (ISO/IEC 18004 section 7.8.3: the lowest penalty
of the eight) by building the whole symbol eight times, about 30 ms for a card token, which alone
would take a 10,000-card batch past its time budget. :class:`_FastMaskQRCode` applies the same
rule from a single build: the data modules of mask *k* are the unmasked data XOR mask *k*, and the
penalty rules N1-N4 are computed with bit operations on the symbol packed into integers.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import qrcode
from qrcode import constants, util
from qrcode.main import copy_2d_array, precomputed_qr_blanks
from reportlab.lib.colors import Color
from reportlab.pdfgen.canvas import Canvas

# The QR alphanumeric character set (ISO/IEC 18004 table 5), which is also base45's alphabet.
ALPHANUMERIC = re.compile(r"[0-9A-Z $%*+\-./:]+")
# Past this version a module drops under 0.3 mm on the 26 mm code the card had until issue 16
# (0.44 mm on today's 34 mm): a limit kept so that a card reads wherever it is printed.
MAX_VERSION = 15


_TO_ASCII = bytes.maketrans(b"\x00\x01", b"01")


def _pack(lines: Iterable[Sequence[bool]]) -> int:
    """Pack rows (or columns) of modules into one integer, each line followed by a 0 separator
    bit, the first line in the most significant bits. Shifting this integer moves every line
    at once, so the penalty rules below cost a few dozen big-integer operations per mask."""
    raw = b"".join(bytes(line) + b"\x00" for line in lines)  # bools are 0 and 1
    return int(raw.translate(_TO_ASCII), 2)


@dataclass(frozen=True)
class _Geometry:
    """Bit masks for one symbol size (n modules a side, lines of n + 1 bits)."""

    n: int
    valid: int  # every module bit (not the separators)
    pairs: int  # bits whose left and upper neighbours are in the same symbol (rule N2)

    @classmethod
    @functools.cache
    def of(cls, n: int) -> _Geometry:
        stride = n + 1
        valid = int(("1" * n + "0") * n, 2)
        # Bit i has its left neighbour at i + 1 and its upper neighbour at i + stride.
        pairs = int("0" * stride + ("0" + "1" * (n - 1) + "0") * (n - 1), 2)
        return cls(n=n, valid=valid, pairs=pairs)


def _line_penalty(a: int, z: int) -> int:
    """Rules N1 and N3 on packed lines, ``a`` the dark modules and ``z`` the light ones."""
    score = 0
    for x in (a, z):
        # Windows of five same-colour modules; a run of length L has L - 4 of them, in one
        # group, and costs 3 + (L - 5) = windows + 2 per group.
        w = x & (x >> 1) & (x >> 2) & (x >> 3) & (x >> 4)
        score += w.bit_count() + 2 * (w & ~(w << 1)).bit_count()
    # 1011101 with 0000 after it, or before it (read left to right, most significant first).
    after = a >> 10 & z >> 9 & a >> 8 & a >> 7 & a >> 6 & z >> 5 & a >> 4 & z >> 3 & z >> 2
    after &= z >> 1 & z
    before = z >> 10 & z >> 9 & z >> 8 & z >> 7 & a >> 6 & z >> 5 & a >> 4 & a >> 3 & a >> 2
    before &= z >> 1 & a
    return score + 40 * (after.bit_count() + before.bit_count())


def _penalty(rows: int, columns: int, geometry: _Geometry) -> int:
    """ISO/IEC 18004 section 7.8.3.1 penalty of a symbol packed by rows and by columns."""
    n, valid = geometry.n, geometry.valid
    score = _line_penalty(rows, ~rows & valid) + _line_penalty(columns, ~columns & valid)
    # N2: 2x2 blocks of one colour, 3 each.
    same_v = ~(rows ^ (rows >> (n + 1)))
    score += 3 * (same_v & (same_v >> 1) & ~(rows ^ (rows >> 1)) & geometry.pairs).bit_count()
    # N4: deviation of the dark proportion from 50 %, 10 per 5 %.
    score += int(abs(rows.bit_count() * 100 / (n * n) - 50) / 5) * 10
    return score


@functools.lru_cache(maxsize=64)
def _masks(blank: tuple[tuple[bool | None, ...], ...]) -> tuple[tuple[int, int], ...]:
    """Where each of the 8 masks flips data modules (None in ``blank``), packed by rows and by
    columns. Independent of the data, so computed once per version."""
    n = len(blank)
    masks = []
    for k in range(8):
        func = util.mask_func(k)
        grid = [[blank[r][c] is None and bool(func(r, c)) for c in range(n)] for r in range(n)]
        masks.append((_pack(grid), _pack(zip(*grid, strict=True))))
    return tuple(masks)


# Never asked for an image, so the image type parameter says nothing.
class _FastMaskQRCode(qrcode.QRCode[Any]):
    def make(self, fit: bool = True) -> None:
        if fit or self.version is None:
            self.best_fit(start=self.version)
        self._make_with_best_mask()

    def _make_with_best_mask(self) -> None:
        n = self.modules_count = self.version * 4 + 17
        if self.version not in precomputed_qr_blanks:
            self.makeImpl(True, 0)  # fills qrcode's cache of function patterns per version
        # The skeleton: function patterns plus (light) format and version areas; None = data.
        self.modules = copy_2d_array(precomputed_qr_blanks[self.version])
        self.setup_type_info(True, 0)
        if self.version >= 7:
            self.setup_type_number(True)
        blank = tuple(tuple(row) for row in self.modules)
        if self.data_cache is None:
            self.data_cache = util.create_data(self.version, self.error_correction, self.data_list)
        self.map_data(self.data_cache, 0)
        masks = _masks(blank)
        geometry = _Geometry.of(n)
        # Undo mask 0 to get the unmasked symbol, then score each mask on it.
        # map_data has filled every data module: no None left.
        plain_rows = _pack(cast("list[list[bool]]", self.modules)) ^ masks[0][0]
        plain_cols = _pack(zip(*self.modules, strict=True)) ^ masks[0][1]
        scores = [_penalty(plain_rows ^ rows, plain_cols ^ cols, geometry) for rows, cols in masks]
        best = scores.index(min(scores))
        bits = format(plain_rows ^ masks[best][0], f"0{n * (n + 1)}b")
        self.mask_pattern = best
        self.modules = [[ch == "1" for ch in bits[r * (n + 1) : r * (n + 1) + n]] for r in range(n)]
        self.setup_type_info(False, best)
        if self.version >= 7:
            self.setup_type_number(False)


def _alphanumeric_version(length: int) -> int:
    """The smallest version holding ``length`` alphanumeric characters at level M: the same
    answer as ``QRCode.best_fit`` without encoding the data once more just to count its bits."""
    limits = util.BIT_LIMIT_TABLE[constants.ERROR_CORRECT_M]
    for version in range(1, 41):
        count_bits = 9 if version <= 9 else 11 if version <= 26 else 13
        needed = 4 + count_bits + 11 * (length // 2) + 6 * (length % 2)
        if needed <= limits[version]:
            return version
    return 41


def encode(text: str) -> tuple[str, ...]:
    """The QR symbol for ``text`` (alphanumeric characters only) as rows of "0"/"1", without
    quiet zone. Raises ValueError for other characters or a text too long to print legibly."""
    if not ALPHANUMERIC.fullmatch(text):
        raise ValueError("qr_text must use only the QR alphanumeric characters (0-9 A-Z $%*+-./:)")
    version = _alphanumeric_version(len(text))
    if version > MAX_VERSION:
        raise ValueError(f"qr_text is too long to print legibly (QR version {version})")
    code = _FastMaskQRCode(version=version, error_correction=constants.ERROR_CORRECT_M, border=0)
    # types-qrcode declares MODE_ALPHA_NUM a plain int, but QRData's mode as the literal 1, 2 or 4.
    code.add_data(util.QRData(text.encode("ascii"), mode=util.MODE_ALPHA_NUM))  # type: ignore[call-overload]
    code.make(fit=False)
    return tuple("".join("1" if m else "0" for m in row) for row in code.modules)


_DARK_RUN = re.compile(r"1+")


def draw(canvas: Canvas, rows: Sequence[str], x: float, y: float, size: float) -> None:
    """The QR code as vector rectangles, one per horizontal run of dark modules, in one path.

    Drawn in module units (one unit per module, y growing downwards from the top row), so the
    path is short integers; each rectangle overlaps the next row by a hair so that no renderer
    shows seams. The light quiet zone around the code is the card's white background (the layout
    keeps at least four modules free around it).
    """
    module = size / len(rows)
    ops = []
    for r, row in enumerate(rows):
        for m in _DARK_RUN.finditer(row):
            ops.append(f"{m.start()} {r} {m.end() - m.start()} 1.02 re")
    canvas.saveState()
    canvas.transform(module, 0, 0, -module, x, y + size)
    canvas.setFillColor(Color(0, 0, 0))
    canvas.addLiteral("\n".join(ops) + "\nf")
    canvas.restoreState()


def _serve() -> None:
    """Worker loop for render_batch: one text per line in, one symbol per line out, as
    "<n>:<n*n bits>" or "!<error message>". Run as a script (``python _qr.py``) so the worker
    imports only qrcode, not the app. (The script's folder, first on its sys.path, holds only
    this package's underscored modules: nothing there shadows a module it imports.)"""
    import os
    import sys

    try:
        for line in sys.stdin:
            try:
                rows = encode(line.rstrip("\n"))
            except ValueError as exc:
                sys.stdout.write(f"!{exc}\n")
            else:
                sys.stdout.write(f"{len(rows)}:{''.join(rows)}\n")
            sys.stdout.flush()
    except BrokenPipeError:
        # The batch stopped early and closed our output: leave quietly, without the
        # interpreter complaining again when it flushes stdout on exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    _serve()
