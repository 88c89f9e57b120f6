"""Label sheets: the QR codes decode back to each item's GS1 Digital Link (zxing-cpp
reads them off the SVG paths and the PDF rectangles), the text is there, pages split."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest
import segno
import zxingcpp
from PIL import Image, ImageDraw

from veriledger.core.errors import BadInputError, CheckDigitError, DigitalLinkError
from veriledger.interfaces import labels as labels_module
from veriledger.interfaces.cli import app, main
from veriledger.interfaces.cli.labels import labels as labels_command
from veriledger.interfaces.cli.labels import load_labels, svg_page_paths
from veriledger.interfaces.labels import Label, LabelInputError, sheet_pdf, sheet_svg

SVG = "{http://www.w3.org/2000/svg}"
GTIN14 = "09506000134352"
LOCAL = "http://127.0.0.1:8000"


def _items(n: int, stem: str | None = None) -> list[Label]:
    return [Label.for_item(GTIN14, f"SN{i:04d}", f"Item {i}", f"C{i:05d}", stem) for i in range(n)]


# --- decoding helpers -------------------------------------------------------------------------


def _decode(matrix: list[list[bool]]) -> str:
    """Rasterise a module matrix with a quiet zone and read it with zxing-cpp."""
    scale, border = 4, 4
    size = (len(matrix) + 2 * border) * scale
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                left, top = (x + border) * scale, (y + border) * scale
                draw.rectangle((left, top, left + scale - 1, top + scale - 1), fill=0)
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    return results[0].text


def _segno_matrix(uri: str) -> list[list[bool]]:
    return [[bool(v) for v in row] for row in segno.make_qr(uri, error="m").matrix]


def _svg_qr_matrix(path: ET.Element) -> list[list[bool]]:
    """The modules drawn by a label's QR ``<path>``: runs ``M x y h n v1 h-n z``."""
    runs = [tuple(map(int, m)) for m in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", path.get("d", ""))]
    assert "".join(f"M{x} {y}h{n}v1h-{n}z" for x, y, n in runs) == path.get("d")
    size = max(x + n for x, _, n in runs)
    assert size == max(y for _, y, _ in runs) + 1
    matrix = [[False] * size for _ in range(size)]
    for x, y, n in runs:
        for i in range(x, x + n):
            matrix[y][i] = True
    return matrix


def _svg_labels(document: str) -> list[ET.Element]:
    root = ET.fromstring(document.encode())
    return root.findall(f"{SVG}g[@class='label']")


def _pdf_streams(pdf: bytes) -> list[str]:
    out = []
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out.append(zlib.decompress(m.group(1)).decode("latin-1"))
        except zlib.error:
            out.append(m.group(1).decode("latin-1"))
    return out


def _pdf_pages(pdf: bytes) -> list[str]:
    """The content stream of each page, in order (fpdf2 writes them first, one a page)."""
    return [s for s in _pdf_streams(pdf) if " re f" in s or " Tj" in s]


def _pdf_text(stream: str) -> list[str]:
    return [re.sub(r"\\(.)", r"\1", m) for m in re.findall(r"\((.*?)(?<!\\)\) Tj", stream)]


def _pdf_qr_decodes(stream: str) -> list[str]:
    """Redraw the filled rectangles of a page (PDF points, 4 px each) and decode every
    QR code on it, top to bottom, left to right."""
    k = 4
    image = Image.new("L", (595 * k, 842 * k), 255)
    draw = ImageDraw.Draw(image)
    for x, y, w, h in re.findall(r"([\d.]+) ([\d.]+) ([\d.]+) (-[\d.]+) re f", stream):
        left, top = float(x) * k, (842 - float(y)) * k
        draw.rectangle(
            (
                round(left),
                round(top),
                round(left + float(w) * k) - 1,
                round(top - float(h) * k) - 1,
            ),
            fill=0,
        )
    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    rows: list[list[zxingcpp.Barcode]] = []
    for result in sorted(results, key=lambda r: r.position.top_left.y):
        if rows and result.position.top_left.y - rows[-1][0].position.top_left.y < 100:
            rows[-1].append(result)
        else:
            rows.append([result])
    return [r.text for row in rows for r in sorted(row, key=lambda r: r.position.top_left.x)]


# --- labels -----------------------------------------------------------------------------------


def test_label_builds_the_canonical_digital_link() -> None:
    label = Label.for_item(GTIN14, "A1", "Tea", "7K2Q")
    assert label.uri == f"https://id.gs1.org/01/{GTIN14}/21/A1"
    assert label.gtin14 == GTIN14
    assert label.hri == f"(01){GTIN14}(21)A1"
    local = Label.for_item("9506000134352", "x/%y", "Tea", None, LOCAL)  # a GTIN-13
    assert local.gtin14 == GTIN14
    assert local.uri == f"{LOCAL}/01/{GTIN14}/21/x%2F%25y"


def test_label_checks_itself() -> None:
    with pytest.raises(CheckDigitError):
        Label.for_item("09506000134353", "A1", "Tea")
    with pytest.raises(BadInputError):
        Label.for_item(GTIN14, "has space", "Tea")
    with pytest.raises(DigitalLinkError):
        Label.for_item(GTIN14, "A1", "Tea", stem="ftp://example.com")
    with pytest.raises(LabelInputError, match="does not name the item"):
        Label(GTIN14, "A1", "Tea", None, f"https://id.gs1.org/01/{GTIN14}/21/A2")
    with pytest.raises(LabelInputError, match="printable ASCII"):
        Label.for_item(GTIN14, "A1", "Tea", "")
    with pytest.raises(LabelInputError, match="limit"):
        Label.for_item(GTIN14, "A1", "Tea", "X" * 17)
    with pytest.raises(LabelInputError, match="unprintable"):
        Label.for_item(GTIN14, "A1", "Tea\nLeaf")


# --- SVG --------------------------------------------------------------------------------------


def test_svg_qr_codes_decode_to_each_items_digital_link() -> None:
    items = [
        Label.for_item(GTIN14, "A1", "Tea", "7K2Q"),
        Label.for_item(GTIN14, "ABCDEFGHIJ0123456789", "Long serial", None, LOCAL),
        Label.for_item(GTIN14, "x/%y", "Escaped serial", "123456", LOCAL),
    ]
    (document,) = sheet_svg(items)
    groups = _svg_labels(document)
    assert len(groups) == len(items)
    for group, label in zip(groups, items, strict=True):
        assert group.get("data-uri") == label.uri
        (path,) = group.findall(f"{SVG}path[@class='qr']")
        matrix = _svg_qr_matrix(path)
        assert matrix == _segno_matrix(label.uri)
        assert _decode(matrix) == label.uri
    assert "<image" not in document


def test_svg_page_is_a4_in_mm_with_the_text() -> None:
    label = Label.for_item(GTIN14, "A1", "Darjeeling & Co <First Flush>", "7K2Q-9XPL")
    (document,) = sheet_svg([label])
    root = ET.fromstring(document.encode())
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == (
        "210mm",
        "297mm",
        "0 0 210 297",
    )
    (group,) = _svg_labels(document)
    texts = [t.text for t in group.iter(f"{SVG}text")]
    assert texts[:4] == ["Darjeeling & Co <First", "Flush>", f"(01){GTIN14}", "(21)A1"]
    assert "SCRATCH TO REVEAL" in texts
    assert texts[-1] == "7K2Q-9XPL"
    assert group.findtext(f"{SVG}title") == f"(01){GTIN14}(21)A1"
    (box,) = group.findall(f"{SVG}rect[@class='scratch']")
    code = next(t for t in group.iter(f"{SVG}text") if t.text == "7K2Q-9XPL")
    x, y, h = (float(box.get(a, "")) for a in ("x", "y", "height"))
    assert x <= float(code.get("x", "")) and float(code.get("y", "")) <= y + h
    assert y <= float(code.get("y", ""))


def test_no_code_no_scratch_box_and_long_names_are_cut() -> None:
    label = Label.for_item(GTIN14, "A1", "A very long product name " * 6)
    (group,) = _svg_labels(sheet_svg([label])[0])
    assert not group.findall(f"{SVG}rect")
    texts = [t.text or "" for t in group.iter(f"{SVG}text")]
    assert "SCRATCH TO REVEAL" not in texts
    assert texts[1].endswith("...")
    assert texts[2:] == [f"(01){GTIN14}", "(21)A1"]


def test_labels_stay_inside_their_cells() -> None:
    items = [
        Label.for_item(GTIN14, "ABCDEFGHIJ0123456789", "W" * 60, "WWWWWWWWWWWWWWWW", LOCAL)
        for _ in range(24)
    ]
    for columns, rows in ((3, 8), (4, 10)):
        pages = labels_module._layout(items, columns, rows, labels_module.DEFAULT_MARGINS_MM)
        grid = labels_module._grid(columns, rows, labels_module.DEFAULT_MARGINS_MM)
        for i, placed in enumerate(pages[0]):
            row, column = divmod(i, columns)
            left = grid.margin_x + column * grid.width
            top = grid.margin_y + row * grid.height
            qr = placed.qr
            side = (max(x + n for x, _, n in qr.runs)) * qr.module_mm
            assert left < qr.x and qr.x + side < left + grid.width
            assert top < qr.y and qr.y + side < top + grid.height
            for t in placed.texts:
                width = labels_module._text_width_mm(t.text, t.size_pt, t.mono, t.bold)
                assert qr.x + side < t.x and t.x + width <= left + grid.width + 1e-6
                assert top < t.y <= top + grid.height
            name_and_hri = [t for t in placed.texts if t.text != "SCRATCH TO REVEAL"][:-1]
            caption = next(t for t in placed.texts if t.text == "SCRATCH TO REVEAL")
            assert max(t.y for t in name_and_hri) < caption.y - caption.size_pt * 0.36


def test_25_labels_take_two_pages_at_3x8() -> None:
    items = _items(25)
    pages = sheet_svg(items)
    assert len(pages) == 2
    assert [len(_svg_labels(p)) for p in pages] == [24, 1]
    last = _svg_labels(pages[1])[0]
    assert last.get("data-uri") == items[24].uri
    assert len(sheet_svg(items, columns=2, rows=6)) == 3
    assert labels_module.page_count(25) == 2


def test_bad_grids_and_empty_sheets() -> None:
    with pytest.raises(LabelInputError, match="no labels"):
        sheet_svg([])
    with pytest.raises(LabelInputError, match="at least"):
        sheet_pdf(_items(1), columns=6)
    with pytest.raises(LabelInputError, match="at least 1 column"):
        sheet_svg(_items(1), columns=0)


# --- PDF --------------------------------------------------------------------------------------


def test_pdf_has_the_pages_text_and_readable_qr_codes() -> None:
    items = _items(25, LOCAL)
    pdf = sheet_pdf(items)
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type /Page\b(?!s)", pdf)) == 2
    assert b"/Count 2" in pdf
    first, second = _pdf_pages(pdf)
    text = _pdf_text(first)
    for label in items[:24]:
        assert label.name in text
        assert f"(01){label.gtin14}" in text
        assert f"(21){label.serial}" in text
        assert label.code in text
    assert text.count("SCRATCH TO REVEAL") == 24
    assert _pdf_text(second)[:3] == ["Item 24", f"(01){GTIN14}", "(21)SN0024"]
    assert _pdf_qr_decodes(second) == [items[24].uri]
    assert _pdf_qr_decodes(first) == [label.uri for label in items[:24]]


def test_pdf_keeps_latin1_and_replaces_the_rest() -> None:
    label = Label.for_item(GTIN14, "A1", "Café — Thé 茶")
    (stream,) = _pdf_pages(sheet_pdf([label]))
    assert _pdf_text(stream)[0] == "Café - Thé ?"
    assert _svg_labels(sheet_svg([label])[0])[0].findtext(f"{SVG}text") == "Café — Thé 茶"


# --- CLI --------------------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app with ``labels`` registered, as the CLI package will do it."""
    if not any(c.name == "labels" for c in app.registered_commands):
        monkeypatch.setattr(app, "registered_commands", [*app.registered_commands])
        app.command("labels")(labels_command)


def _write_json(path: Path, items: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps(items), encoding="utf-8")
    return path


ITEMS: list[dict[str, object]] = [
    {"gtin": GTIN14, "serial": "A1", "name": "Tea", "code": "7K2Q"},
    {"gtin": "9506000134352", "serial": "A2", "name": "Coffee", "code": None},
    {"gtin": GTIN14, "serial": "A3", "name": "Cocoa"},
]


@pytest.mark.usefixtures("cli")
def test_cli_writes_a_pdf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = _write_json(tmp_path / "items.json", ITEMS)
    out = tmp_path / "labels.pdf"
    assert main(["labels", str(items), str(out)]) == 0
    assert capsys.readouterr().out == f"{out}\n"
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF")
    (stream,) = _pdf_pages(pdf)
    assert {"Tea", "Coffee", "Cocoa", "(21)A2", "7K2Q"} <= set(_pdf_text(stream))
    assert _pdf_qr_decodes(stream) == [f"https://id.gs1.org/01/{GTIN14}/21/A{i}" for i in (1, 2, 3)]


@pytest.mark.usefixtures("cli")
def test_cli_writes_svg_pages_from_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = tmp_path / "items.csv"
    items.write_text(
        "Name, GTIN ,Serial,Code,Colour\n"
        + "".join(
            f"Item {i},{GTIN14},S{i},{'K' + str(i) if i % 2 else ''},red\n" for i in range(25)
        )
        + "\n"
    )
    out = tmp_path / "sheet.svg"
    assert main(["labels", str(items), str(out), "--stem", LOCAL]) == 0
    written = capsys.readouterr().out.split()
    assert written == [str(tmp_path / "sheet-page1.svg"), str(tmp_path / "sheet-page2.svg")]
    first = _svg_labels((tmp_path / "sheet-page1.svg").read_text())
    assert first[1].get("data-uri") == f"{LOCAL}/01/{GTIN14}/21/S1"
    (path,) = first[1].findall(f"{SVG}path[@class='qr']")
    assert _decode(_svg_qr_matrix(path)) == f"{LOCAL}/01/{GTIN14}/21/S1"
    texts = [t.text for t in first[1].iter(f"{SVG}text")]
    assert "K1" in texts
    assert "SCRATCH TO REVEAL" not in [t.text for t in first[0].iter(f"{SVG}text")]


@pytest.mark.usefixtures("cli")
def test_cli_format_option_and_svg_names(tmp_path: Path) -> None:
    items = _write_json(tmp_path / "items.json", ITEMS)
    assert main(["labels", str(items), str(tmp_path / "out"), "--format", "svg"]) == 0
    assert (tmp_path / "out-page1.svg").read_text().startswith("<?xml")
    assert main(["labels", str(items), str(tmp_path / "x.svg"), "--format", "pdf"]) == 0
    assert (tmp_path / "x.svg").read_bytes().startswith(b"%PDF")
    assert svg_page_paths(Path("a/b.SVG"), 2) == [Path("a/b-page1.svg"), Path("a/b-page2.svg")]


@pytest.mark.usefixtures("cli")
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            [{"gtin": "09506000134353", "serial": "A1", "name": "Tea"}],
            "error: items.json item 1: 01: check digit 3 does not match the computed 2\n",
        ),
        (
            [*ITEMS, {"gtin": 9506000134352, "serial": "A1", "name": "Tea"}],
            "error: items.json item 4: gtin must be a string, got int\n",
        ),
        (
            [{"gtin": GTIN14, "name": "Tea"}],
            "error: items.json item 1: serial must be a string, got nothing\n",
        ),
        ({"gtin": GTIN14}, "error: items.json: want a JSON list of items, got dict\n"),
        ([], "error: items.json: no items\n"),
    ],
)
def test_cli_bad_items_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: object, message: str
) -> None:
    items = tmp_path / "items.json"
    items.write_text(json.dumps(content))
    out = tmp_path / "labels.pdf"
    assert main(["labels", str(items), str(out)]) == 2
    assert capsys.readouterr().err == message
    assert not out.exists()


@pytest.mark.usefixtures("cli")
def test_cli_other_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = _write_json(tmp_path / "items.json", ITEMS)
    out = str(tmp_path / "l.pdf")
    assert main(["labels", str(tmp_path / "missing.json"), out]) == 2
    assert capsys.readouterr().err.startswith("error: cannot read items file")
    assert main(["labels", str(items), out, "--stem", "ftp://x"]) == 2
    assert capsys.readouterr().err.startswith("error: items.json item 1: ")
    assert main(["labels", str(items), out, "--columns", "9"]) == 2
    assert "labels need at least" in capsys.readouterr().err
    csv_file = tmp_path / "items.csv"
    csv_file.write_text(f"gtin,name\n{GTIN14},Tea\n")
    assert main(["labels", str(csv_file), out]) == 2
    assert capsys.readouterr().err == "error: items.csv: the header row has no column serial\n"
    csv_file.write_text(f"gtin,serial,name\n{GTIN14},A1,Tea\n{GTIN14}1,A2,Tea\n")
    assert main(["labels", str(csv_file), out]) == 2
    assert capsys.readouterr().err.startswith("error: items.csv line 3: 01: ")
    assert main(["labels", str(items), str(tmp_path / "no" / "dir.pdf")]) == 2
    assert capsys.readouterr().err.startswith("error: cannot write")


def test_load_labels_reads_json_without_a_suffix(tmp_path: Path) -> None:
    items = _write_json(tmp_path / "items", ITEMS)
    loaded = load_labels(items, LOCAL)
    assert [label.uri for label in loaded] == [f"{LOCAL}/01/{GTIN14}/21/A{i}" for i in (1, 2, 3)]
    assert [label.code for label in loaded] == ["7K2Q", None, None]
