"""A reportlab canvas that writes each finished page to the output at once.

reportlab keeps every page (content stream, images) inside its ``PDFDocument`` until ``save()``,
so a 10,000-card batch would hold every photo in memory. Concatenating separately rendered PDFs
would embed the fonts once per piece. Instead this writer lets reportlab build the document as
usual and, after each ``showPage``, formats the objects that page created (the page, its content
stream, its images, any form XObject) straight to the output and drops them, keeping only their
file offsets for the cross-reference table (and the pages' numbers for the page tree). Fonts, the
page tree, the catalog and the info dictionary stay in the document and are written by
:meth:`StreamingPdf.close`, as reportlab does, so each font is embedded once, subset to the
glyphs actually used.

This leans on reportlab's document internals (``idToObject``, ``numberToId``, ``Pages.pages``,
``delayedFonts``), which have been stable across reportlab 3.x-5.x; the printing tests open the
result with pdfium and decode its QR codes, so a change there fails the suite loudly.
"""

from __future__ import annotations

import hashlib
import io
from array import array
from typing import BinaryIO, cast

from reportlab.pdfbase import pdfdoc
from reportlab.pdfbase.pdfutils import readJPEGInfo
from reportlab.pdfgen.canvas import Canvas

_HEADER = b"%PDF-1.4\n%\x93\x8c\x8b\x9e citycard\n"

# The kinds of object a page creates and nothing refers to by identity afterwards.
_FLUSHABLE = (pdfdoc.PDFPage, pdfdoc.PDFStream, pdfdoc.PDFImageXObject, pdfdoc.PDFFormXObject)


def jpeg_info(jpeg: bytes) -> tuple[int, int, int]:
    """Pixel width, height and number of colour components of a JPEG; ValueError when it is
    not a JPEG reportlab can embed."""
    try:
        # types-reportlab says it may return None; it returns the tuple or raises.
        info = cast("tuple[int, int, int, object]", readJPEGInfo(io.BytesIO(jpeg)))
    except Exception as exc:  # reportlab raises bare PDFError/IndexError/struct.error
        raise ValueError("photo is not a readable JPEG") from exc
    width, height, components = int(info[0]), int(info[1]), int(info[2])
    if width <= 0 or height <= 0 or components not in (1, 3, 4):
        raise ValueError("photo is not a readable JPEG")
    return width, height, components


class _Written(pdfdoc.PDFObject):
    """Stands in for an object already written: keeps what reportlab may still ask of it."""

    __slots__ = ("height", "width")

    def __init__(self, obj: object) -> None:
        self.width = getattr(obj, "width", 0)
        self.height = getattr(obj, "height", 0)

    def format(self, document: pdfdoc.PDFDocument) -> bytes:  # pragma: no cover - a bug guard
        raise AssertionError("object already written to the stream")


class StreamingPdf:
    """Write a PDF page by page to ``out``. Draw on :attr:`canvas`, call :meth:`show_page` after
    each page and :meth:`close` at the end."""

    def __init__(self, out: BinaryIO, *, pagesize: tuple[float, float], title: str) -> None:
        self._out = out
        self._offset = 0
        # Canvas wants a file for save(); it is never called, the output goes through _write.
        self.canvas = Canvas(io.BytesIO(), pagesize=pagesize, pageCompression=1)
        self.canvas.setTitle(title)
        self.canvas.setCreator("citycard")
        # Canvas internals (see the module docstring) are not in types-reportlab: the
        # "type: ignore[attr-defined]" comments below mark each one.
        self._doc = self.canvas._doc  # type: ignore[attr-defined]
        self._next_number = 1
        self._pages_done = 0
        # File offset of every object written, by object number (0: not written yet). Eight
        # bytes per object is all a finished page leaves behind, besides its page-tree entry.
        self._offsets = array("q", [0])
        self._write(_HEADER)

    def _write(self, data: bytes) -> int:
        offset = self._offset
        self._out.write(data)
        self._offset += len(data)
        return offset

    def _write_object(self, oid: str, *, forget: bool) -> None:
        """Write one object; with ``forget``, drop what reportlab no longer needs of it."""
        doc = self._doc
        obj = doc.idToObject[oid]
        number = doc.idToObjectNumberAndVersion[oid][0]
        data = pdfdoc.PDFIndirectObject(oid, obj).format(doc)
        if number >= len(self._offsets):
            self._offsets.extend([0] * (number + 1 - len(self._offsets)))
        self._offsets[number] = self._write(data)
        if not forget:
            return
        kind = type(obj)
        if kind is pdfdoc.PDFImageXObject or kind is pdfdoc.PDFFormXObject:
            # Looked up again by name: an image drawn on several cards, a form on every page.
            doc.idToObject[oid] = _Written(obj)
        else:
            # A page or its content stream: nothing refers to them by name again (the page tree
            # gets the page's number, see _flush).
            del doc.idToObject[oid]
            del doc.idToObjectNumberAndVersion[oid]
            obj._citycard_number = number
        del doc.numberToId[number]

    def show_page(self) -> None:
        self.canvas.showPage()
        self._flush()

    def _flush(self) -> None:
        doc = self._doc
        # Formatting a page registers its content stream (and the page tree, which stays), so
        # the loop runs until no new object appears.
        while self._next_number <= doc.objectcounter:
            oid = doc.numberToId[self._next_number]
            obj = doc.idToObject[oid]
            if type(obj) is pdfdoc.PDFPage and obj.Contents is None and obj.stream:
                # What PDFPage.check_format would build, minus the ASCII85 layer reportlab adds
                # by default (rl_config.useA85): a quarter bigger and slow to encode.
                stream = pdfdoc.PDFStream(content=obj.stream, filters=[pdfdoc.PDFZCompress])
                obj.Contents = stream
            if type(obj) in _FLUSHABLE:
                self._write_object(oid, forget=True)
            self._next_number += 1
        # The page tree keeps a reference per page, as the bytes "n 0 R" (reportlab formats
        # bytes in an array as they are): some 50 bytes a page instead of the page itself.
        pages = doc.Pages.pages
        for i in range(self._pages_done, len(pages)):
            pages[i] = b"%d 0 R" % pages[i]._citycard_number
        self._pages_done = len(pages)

    def draw_jpeg(
        self, jpeg: bytes, info: tuple[int, int, int], x: float, y: float, w: float, h: float
    ) -> None:
        """Draw a JPEG (``info`` from :func:`jpeg_info`) as is, DCTDecode with no re-encoding,
        embedded once per distinct file.

        reportlab's drawImage decodes the image to hash its pixels and ASCII85-encodes it; for
        a photo the app has already re-encoded, passing the bytes through is faster and smaller.
        """
        canvas = self.canvas
        name = "jpeg" + hashlib.sha256(jpeg).hexdigest()[:32]
        reg_name = self._doc.getXObjectName(name)
        if reg_name not in self._doc.idToObject:
            image = pdfdoc.PDFImageXObject(name)
            image.width, image.height, components = info
            image.bitsPerComponent = 8
            image.colorSpace = {1: "DeviceGray", 3: "DeviceRGB", 4: "DeviceCMYK"}[components]
            if components == 4:
                # Adobe's inverted CMYK JPEGs, as reportlab handles them
                image._dotrans = 1  # type: ignore[attr-defined]
            # types-reportlab says str; reportlab writes bytes content as it is.
            image.streamContent = jpeg  # type: ignore[assignment]
            image._filters = ("DCTDecode",)  # type: ignore[attr-defined]
            image.mask = None
            self._doc.Reference(image, reg_name)
        canvas.saveState()
        canvas.translate(x, y)
        canvas.scale(w, h)
        canvas.addLiteral(f"/{reg_name} Do")
        canvas.restoreState()
        canvas._formsinuse.append(name)  # type: ignore[attr-defined]
        canvas._currentPageHasImages = 1  # type: ignore[attr-defined]

    def close(self) -> None:
        """Write the remaining objects (fonts, page tree, catalog), the xref and the trailer."""
        canvas = self.canvas
        if canvas._code:  # type: ignore[attr-defined]
            self.show_page()
        doc = self._doc
        for font in doc.delayedFonts:
            font.addObjects(doc)
        doc.info.invariant = doc.invariant
        doc.info.digest(doc.signature)
        doc.Reference(doc.Catalog)
        doc.Reference(doc.info)
        doc.Outlines.prepare(doc, canvas)
        if doc.Outlines.ready < 0:
            doc.Catalog.Outlines = None
        number = 1
        while number <= doc.objectcounter:
            if number >= len(self._offsets) or not self._offsets[number]:
                self._write_object(doc.numberToId[number], forget=False)
            number += 1
        xref_offset = self._offset
        self._write(b"xref\n0 %d\n0000000000 65535 f \n" % number)
        for start in range(1, number, 4096):
            chunk = self._offsets[start : min(number, start + 4096)]
            self._write(b"".join(b"%010d 00000 n \n" % offset for offset in chunk))
        trailer = pdfdoc.PDFTrailer(
            startxref=xref_offset,
            Size=number,
            Root=doc.Reference(doc.Catalog),
            Info=doc.Reference(doc.info),
            ID=doc.ID(),
        )
        self._write(trailer.format(doc))
