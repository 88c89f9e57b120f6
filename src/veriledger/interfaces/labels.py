"""Printable label sheets: a QR code of each item's GS1 Digital Link, and its text.

A sheet is A4 (210 x 297 mm) cut into ``columns`` x ``rows`` labels, filled row by row.
Each label carries, from left to right:

- the QR code of the item's Digital Link URI (error correction M or better, with the
  4-module quiet zone ISO/IEC 18004 asks for), drawn as vector shapes;
- the product name (bold, at most two lines, cut with ``...``);
- the GTIN and serial in GS1 human-readable form, one element string a line:
  ``(01)09506000134352`` and ``(21)ABC123``;
- when the item has a verification code, a dashed "scratch to reveal" box with the code
  printed in it: the box marks where the scratch-off layer goes.

The layout is computed once as shapes in millimetres (:func:`_layout_page`) and drawn by
two back ends: :func:`sheet_svg` (one SVG document a page, the QR code as one ``<path>``)
and :func:`sheet_pdf` (one multi-page PDF, through fpdf2). Text widths come from the
standard Helvetica and Courier metrics, so both back ends cut and centre text alike.

The PDF uses the standard PDF fonts, which cover Latin-1 only: other characters in a
name are printed as ``?`` there, bar dashes and quotes, which become ASCII (the SVG
keeps them all). GTINs, serials (GS1 CSET 82) and
verification codes (printable ASCII) are never affected.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import segno
from fpdf import FPDF
from fpdf.fonts import CORE_FONTS_CHARWIDTHS

from veriledger.core.errors import BadInputError
from veriledger.core.gs1 import (
    GTIN,
    SGTIN,
    build_digital_link,
    format_element_strings,
    parse_digital_link,
)

PAGE_WIDTH_MM = 210.0
PAGE_HEIGHT_MM = 297.0
"""A4, portrait."""
DEFAULT_MARGINS_MM = (5.0, 8.5)
"""Left/right and top/bottom page margins; at 3 x 8 they give 66.7 x 35 mm labels."""
MIN_LABEL_WIDTH_MM = 45.0
MIN_LABEL_HEIGHT_MM = 28.0
"""The smallest label the layout fits: QR code, name, both element strings, code box."""
MAX_CODE_LENGTH = 16
MAX_NAME_LENGTH = 200

QR_ERROR = "m"
"""Error correction level M; segno raises it when the same QR version allows."""
QUIET_ZONE_MODULES = 4

_PT_MM = 25.4 / 72
_PAD_MM = 1.5
_GAP_MM = 1.0
_NAME_PT = 8.0
_HRI_PT = 7.0
_MIN_PT = 4.0
_CAPTION_PT = 5.0
_CODE_PT = 10.0
_CODE_BOX_MM = 6.5
_CAPTION = "SCRATCH TO REVEAL"
_ELLIPSIS = "..."
_SANS = "Helvetica, Arial, sans-serif"
_MONO = "Courier, 'Courier New', monospace"


class LabelInputError(BadInputError):
    """A label's name or code, a sheet's grid, or an items file is not usable."""


# --- labels ---------------------------------------------------------------------------------


def _check_text(what: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise LabelInputError(f"{what} is {len(value)} characters, the limit is {limit}")
    for ch in value:
        if not ch.isprintable():
            raise LabelInputError(f"{what} {value!r} has the unprintable character {ch!r}")


@dataclass(frozen=True)
class Label:
    """One item's label. Checks itself when made: use :meth:`for_item` to build ``uri``.

    Raises:
        GS1FormatError, CheckDigitError: ``gtin14`` or ``serial`` is not valid.
        DigitalLinkError: ``uri`` is not a GS1 Digital Link URI.
        LabelInputError: ``uri`` names another item; ``name`` or ``code`` is too long or
            has unprintable characters; ``code`` is empty or not printable ASCII.
    """

    gtin14: str
    serial: str
    name: str
    code: str | None
    uri: str

    def __post_init__(self) -> None:
        item = SGTIN(GTIN(self.gtin14), self.serial)
        _check_text("name", self.name, MAX_NAME_LENGTH)
        if self.code is not None:
            if not self.code or not self.code.isascii():
                raise LabelInputError(
                    f"verification code {self.code!r} must be non-empty printable ASCII"
                )
            _check_text("verification code", self.code, MAX_CODE_LENGTH)
        if parse_digital_link(self.uri).path != item.element_strings():
            raise LabelInputError(f"URI {self.uri} does not name the item {item}")

    @classmethod
    def for_item(
        cls, gtin: str, serial: str, name: str, code: str | None = None, stem: str | None = None
    ) -> Label:
        """The label of the item ``gtin`` (GTIN-8, -12, -13 or -14) + ``serial``, whose URI
        is the Digital Link on ``stem`` (default ``https://id.gs1.org``, the canonical one).

        Raises:
            GS1FormatError, CheckDigitError: a bad GTIN or serial.
            DigitalLinkError: ``stem`` is not an http(s) scheme and domain.
            LabelInputError: see :class:`Label`.
        """
        item = SGTIN(GTIN.parse(gtin), serial)
        uri = build_digital_link(item.element_strings(), stem=stem)
        return cls(item.gtin.value, serial, name, code, uri)

    @property
    def hri(self) -> str:
        """The GS1 human-readable form, ``(01)<gtin14>(21)<serial>``."""
        return format_element_strings(SGTIN(GTIN(self.gtin14), self.serial).element_strings())

    def qr_matrix(self) -> tuple[tuple[bool, ...], ...]:
        """The QR code's modules (``True`` is dark), rows top to bottom, no quiet zone."""
        qr = segno.make_qr(self.uri, error=QR_ERROR)
        return tuple(tuple(bool(v) for v in row) for row in qr.matrix)


# --- layout ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rect:
    x: float
    y: float
    w: float
    h: float
    dashed: bool = False


@dataclass(frozen=True)
class _Text:
    x: float
    y: float
    """Baseline."""
    text: str
    size_pt: float
    mono: bool
    bold: bool


@dataclass(frozen=True)
class _QR:
    x: float
    y: float
    module_mm: float
    runs: tuple[tuple[int, int, int], ...]
    """Dark runs ``(column, row, length)`` in modules from the symbol's top left."""


@dataclass(frozen=True)
class _PlacedLabel:
    label: Label
    qr: _QR
    texts: tuple[_Text, ...]
    boxes: tuple[_Rect, ...]


@dataclass(frozen=True)
class _Grid:
    columns: int
    rows: int
    margin_x: float
    margin_y: float

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    @property
    def width(self) -> float:
        return (PAGE_WIDTH_MM - 2 * self.margin_x) / self.columns

    @property
    def height(self) -> float:
        return (PAGE_HEIGHT_MM - 2 * self.margin_y) / self.rows


def _grid(columns: int, rows: int, margins_mm: tuple[float, float]) -> _Grid:
    if columns < 1 or rows < 1:
        raise LabelInputError(f"a sheet needs at least 1 column and 1 row, not {columns}x{rows}")
    margin_x, margin_y = margins_mm
    if not (0 <= margin_x < PAGE_WIDTH_MM / 2 and 0 <= margin_y < PAGE_HEIGHT_MM / 2):
        raise LabelInputError(f"page margins {margin_x} x {margin_y} mm do not fit on A4")
    grid = _Grid(columns, rows, margin_x, margin_y)
    if grid.width < MIN_LABEL_WIDTH_MM or grid.height < MIN_LABEL_HEIGHT_MM:
        raise LabelInputError(
            f"{columns}x{rows} labels are {grid.width:.1f} x {grid.height:.1f} mm; "
            f"labels need at least {MIN_LABEL_WIDTH_MM:g} x {MIN_LABEL_HEIGHT_MM:g} mm"
        )
    return grid


def _text_width_mm(text: str, size_pt: float, mono: bool, bold: bool) -> float:
    font = ("courier" if mono else "helvetica") + ("B" if bold else "")
    widths = CORE_FONTS_CHARWIDTHS[font]
    units = sum(widths.get(ch, 600) for ch in text)
    return units / 1000 * size_pt * _PT_MM


def _fit_size(texts: Iterable[str], width: float, size_pt: float, mono: bool, bold: bool) -> float:
    """The largest size up to ``size_pt`` (and at least the minimum) at which all fit."""
    widest = max((_text_width_mm(t, 1.0, mono, bold) for t in texts), default=0.0)
    return size_pt if widest == 0 else max(_MIN_PT, min(size_pt, width / widest))


def _cut(text: str, width: float, size_pt: float, bold: bool) -> str:
    """``text`` cut to ``width`` with a trailing ``...``."""
    if _text_width_mm(text, size_pt, False, bold) <= width:
        return text
    while text and _text_width_mm(text + _ELLIPSIS, size_pt, False, bold) > width:
        text = text[:-1]
    return text.rstrip() + _ELLIPSIS


def _wrap(text: str, width: float, size_pt: float, bold: bool, max_lines: int) -> list[str]:
    """Greedy word wrap into at most ``max_lines``; over-long words break anywhere."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if _text_width_mm(candidate, size_pt, False, bold) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while _text_width_mm(current, size_pt, False, bold) > width and len(current) > 1:
            split = len(current) - 1
            while split > 1 and _text_width_mm(current[:split], size_pt, False, bold) > width:
                split -= 1
            lines.append(current[:split])
            current = current[split:]
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        rest = " ".join(lines[max_lines - 1 :])
        lines = [*lines[: max_lines - 1], _cut(rest, width, size_pt, bold)]
    return lines


def _runs(matrix: Sequence[Sequence[bool]]) -> tuple[tuple[int, int, int], ...]:
    runs: list[tuple[int, int, int]] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                runs.append((start, y, x - start))
            else:
                x += 1
    return tuple(runs)


def _place(label: Label, x: float, y: float, w: float, h: float) -> _PlacedLabel:
    matrix = label.qr_matrix()
    side = min(h, w / 2) - 2 * _PAD_MM
    module = side / (len(matrix) + 2 * QUIET_ZONE_MODULES)
    qr_x = x + _PAD_MM + QUIET_ZONE_MODULES * module
    qr_y = y + (h - len(matrix) * module) / 2
    qr = _QR(qr_x, qr_y, module, _runs(matrix))

    text_x = x + _PAD_MM + side + _GAP_MM
    text_w = x + w - _PAD_MM - text_x
    texts: list[_Text] = []
    cursor = y + _PAD_MM + QUIET_ZONE_MODULES * module / 2
    for line in _wrap(label.name, text_w, _NAME_PT, True, 2):
        cursor += _NAME_PT * _PT_MM
        texts.append(_Text(text_x, cursor, line, _NAME_PT, mono=False, bold=True))
        cursor += 0.6
    cursor += _GAP_MM
    hri = [f"(01){label.gtin14}", f"(21){label.serial}"]
    hri_pt = _fit_size(hri, text_w, _HRI_PT, mono=True, bold=False)
    for line in hri:
        cursor += hri_pt * _PT_MM
        texts.append(_Text(text_x, cursor, line, hri_pt, mono=True, bold=False))
        cursor += 0.5

    boxes: list[_Rect] = []
    if label.code is not None:
        box = _Rect(text_x, y + h - _PAD_MM - _CODE_BOX_MM - 0.5, text_w, _CODE_BOX_MM, True)
        boxes.append(box)
        caption_pt = _fit_size([_CAPTION], text_w, _CAPTION_PT, mono=False, bold=True)
        texts.append(_Text(text_x, box.y - 0.7, _CAPTION, caption_pt, mono=False, bold=True))
        code_pt = _fit_size([label.code], text_w - 2, _CODE_PT, mono=True, bold=True)
        code_w = _text_width_mm(label.code, code_pt, mono=True, bold=True)
        baseline = box.y + box.h / 2 + code_pt * _PT_MM * 0.35
        code_x = box.x + (box.w - code_w) / 2
        texts.append(_Text(code_x, baseline, label.code, code_pt, mono=True, bold=True))
    return _PlacedLabel(label, qr, tuple(texts), tuple(boxes))


def _layout(
    labels: Sequence[Label], columns: int, rows: int, margins_mm: tuple[float, float]
) -> list[list[_PlacedLabel]]:
    grid = _grid(columns, rows, margins_mm)
    if not labels:
        raise LabelInputError("no labels to print")
    pages: list[list[_PlacedLabel]] = []
    for start in range(0, len(labels), grid.per_page):
        page = []
        for i, label in enumerate(labels[start : start + grid.per_page]):
            row, column = divmod(i, grid.columns)
            x = grid.margin_x + column * grid.width
            y = grid.margin_y + row * grid.height
            page.append(_place(label, x, y, grid.width, grid.height))
        pages.append(page)
    return pages


def page_count(n_labels: int, columns: int = 3, rows: int = 8) -> int:
    """How many sheets ``n_labels`` labels take."""
    return math.ceil(n_labels / (columns * rows))


# --- SVG ------------------------------------------------------------------------------------


def _n(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _svg_text(t: _Text) -> str:
    family = _MONO if t.mono else _SANS
    weight = ' font-weight="bold"' if t.bold else ""
    return (
        f'<text x="{_n(t.x)}" y="{_n(t.y)}" font-family="{family}"'
        f' font-size="{_n(t.size_pt * _PT_MM)}"{weight}>{escape(t.text)}</text>'
    )


def _svg_label(placed: _PlacedLabel) -> list[str]:
    qr = placed.qr
    d = "".join(f"M{x} {y}h{n}v1h-{n}z" for x, y, n in qr.runs)
    out = [
        f'<g class="label" data-uri={quoteattr(placed.label.uri)}>',
        f"<title>{escape(placed.label.hri)}</title>",
        f'<path class="qr" fill="#000" transform="translate({_n(qr.x)} {_n(qr.y)})'
        f' scale({_n(qr.module_mm)})" d="{d}"/>',
    ]
    out.extend(
        f'<rect class="scratch" x="{_n(b.x)}" y="{_n(b.y)}" width="{_n(b.w)}"'
        f' height="{_n(b.h)}" fill="none" stroke="#000" stroke-width="0.25"'
        f' stroke-dasharray="1 0.6"/>'
        for b in placed.boxes
    )
    out.extend(_svg_text(t) for t in placed.texts)
    out.append("</g>")
    return out


def sheet_svg(
    labels: Sequence[Label],
    columns: int = 3,
    rows: int = 8,
    *,
    margins_mm: tuple[float, float] = DEFAULT_MARGINS_MM,
) -> list[str]:
    """One standalone SVG document (A4, user units in mm) for each sheet of labels.

    Raises:
        LabelInputError: no labels, or a grid whose labels are too small.
    """
    pages = _layout(labels, columns, rows, margins_mm)
    documents = []
    for number, page in enumerate(pages, 1):
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1"'
            f' width="{_n(PAGE_WIDTH_MM)}mm" height="{_n(PAGE_HEIGHT_MM)}mm"'
            f' viewBox="0 0 {_n(PAGE_WIDTH_MM)} {_n(PAGE_HEIGHT_MM)}">',
            f"<title>Labels, sheet {number} of {len(pages)}</title>",
        ]
        for placed in page:
            lines.extend(_svg_label(placed))
        lines.append("</svg>")
        documents.append("\n".join(lines) + "\n")
    return documents


# --- PDF ------------------------------------------------------------------------------------


_TYPOGRAPHY = str.maketrans({
    "\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"',
    "\u201d": '"', "\u2026": "...", "\u2022": "\u00b7", "\u2212": "-",
})  # fmt: skip


def _latin1(text: str) -> str:
    """``text`` for the standard PDF fonts: dashes and quotes as ASCII, the rest as ``?``."""
    return text.translate(_TYPOGRAPHY).encode("latin-1", errors="replace").decode("latin-1")


def sheet_pdf(
    labels: Sequence[Label],
    columns: int = 3,
    rows: int = 8,
    *,
    margins_mm: tuple[float, float] = DEFAULT_MARGINS_MM,
    title: str = "Labels",
) -> bytes:
    """A multi-page A4 PDF with the same layout as :func:`sheet_svg`.

    Raises:
        LabelInputError: no labels, or a grid whose labels are too small.
    """
    pages = _layout(labels, columns, rows, margins_mm)
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_margin(0)
    pdf.set_title(_latin1(title))
    pdf.set_creator("veriledger")
    pdf.set_draw_color(0)
    pdf.set_fill_color(0)
    pdf.set_text_color(0)
    for page in pages:
        pdf.add_page()
        for placed in page:
            qr = placed.qr
            m = qr.module_mm
            for x, y, n in qr.runs:
                pdf.rect(qr.x + x * m, qr.y + y * m, n * m, m, style="F")
            for box in placed.boxes:
                pdf.set_line_width(0.25)
                pdf.set_dash_pattern(dash=1, gap=0.6)
                pdf.rect(box.x, box.y, box.w, box.h, style="D")
                pdf.set_dash_pattern()
            for t in placed.texts:
                family = "Courier" if t.mono else "Helvetica"
                pdf.set_font(family, style="B" if t.bold else "", size=t.size_pt)
                pdf.text(t.x, t.y, _latin1(t.text))
    return bytes(pdf.output())
