"""``veriledger labels``: print label sheets with a QR code of each item's Digital Link.

The items file is JSON or CSV, told apart by its suffix (``.json``, ``.csv``), else by
its first character (``[`` is JSON):

- JSON: a list of objects ``{"gtin": "09506000134352", "serial": "A1", "name": "Tea",
  "code": "7K2Q"}``; ``code`` may be missing or ``null``. GTINs are strings, since a
  JSON number loses the leading zeros.
- CSV: a header row naming the columns ``gtin``, ``serial``, ``name`` and optionally
  ``code`` (any order, other columns ignored), then one item a row; an empty ``code``
  cell means no code.
"""

from __future__ import annotations

import csv
import io
import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from veriledger.core.errors import BadInputError

if TYPE_CHECKING:
    from veriledger.interfaces.labels import Label

DEFAULT_STEM = "https://id.gs1.org"
"""The canonical GS1 resolver (``veriledger.core.gs1.CANONICAL_STEM``)."""

_FIELDS = ("gtin", "serial", "name", "code")
_REQUIRED = ("gtin", "serial", "name")


class LabelFormat(StrEnum):
    svg = "svg"
    pdf = "pdf"


def _error(message: str) -> BadInputError:
    from veriledger.interfaces.labels import LabelInputError

    return LabelInputError(message)


def _json_items(text: str, source: str) -> list[tuple[str, dict[str, object]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _error(f"{source}: not JSON: {exc}") from None
    if not isinstance(data, list):
        raise _error(f"{source}: want a JSON list of items, got {type(data).__name__}")
    items = []
    for i, item in enumerate(data, 1):
        if not isinstance(item, dict):
            raise _error(f"{source} item {i}: want an object, got {type(item).__name__}")
        items.append((f"{source} item {i}", item))
    return items


def _csv_items(text: str, source: str) -> list[tuple[str, dict[str, object]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None:
        return []
    reader.fieldnames = [name.strip().lower() for name in reader.fieldnames]
    missing = [f for f in _REQUIRED if f not in reader.fieldnames]
    if missing:
        raise _error(f"{source}: the header row has no column {', '.join(missing)}")
    items: list[tuple[str, dict[str, object]]] = []
    for row in reader:
        if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
            continue  # a blank line
        item: dict[str, object] = {k: row.get(k) for k in _FIELDS}
        if not item.get("code"):
            item["code"] = None
        items.append((f"{source} line {reader.line_num}", item))
    return items


def _field(where: str, item: dict[str, object], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        got = "nothing" if value is None else type(value).__name__
        raise _error(f"{where}: {key} must be a string, got {got}")
    return value


def load_labels(items_file: Path, stem: str = DEFAULT_STEM) -> list[Label]:
    """The labels of the items in ``items_file`` (JSON or CSV, see the module docstring),
    their URIs on ``stem``.

    Raises:
        BadInputError: the file cannot be read, does not parse, or has no items.
        LabelInputError: an item is not valid; the message names the item and says why
            (e.g. ``items.csv line 3: 01: check digit 3 does not match the computed 2``).
    """
    from veriledger.interfaces.labels import Label

    try:
        text = items_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise BadInputError(f"cannot read items file {items_file}: {reason}") from None
    source = items_file.name
    suffix = items_file.suffix.lower()
    is_json = suffix == ".json" or (suffix != ".csv" and text.lstrip().startswith("["))
    items = _json_items(text, source) if is_json else _csv_items(text, source)
    if not items:
        raise _error(f"{source}: no items")
    labels = []
    for where, item in items:
        gtin, serial, name = (_field(where, item, key) for key in _REQUIRED)
        code = None if item.get("code") is None else _field(where, item, "code")
        try:
            labels.append(Label.for_item(gtin.strip(), serial.strip(), name.strip(), code, stem))
        except BadInputError as exc:
            raise _error(f"{where}: {exc}") from exc
    return labels


def svg_page_paths(output: Path, pages: int) -> list[Path]:
    """``labels.svg`` (or ``labels``) -> ``labels-page1.svg``, ``labels-page2.svg``, ..."""
    base = output.stem if output.suffix.lower() == ".svg" else output.name
    return [output.with_name(f"{base}-page{n}.svg") for n in range(1, pages + 1)]


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise BadInputError(f"cannot write {path}: {exc.strerror}") from None


def labels(
    items_file: Path = typer.Argument(
        ..., metavar="ITEMS", help="A JSON or CSV list of items: gtin, serial, name, code."
    ),
    output: Path = typer.Argument(
        ..., metavar="OUTPUT", help="The PDF to write, or the SVG base name (OUTPUT-pageN.svg)."
    ),
    format: LabelFormat | None = typer.Option(
        None, "--format", help="pdf or svg (default: svg if OUTPUT ends in .svg, else pdf)."
    ),
    stem: str = typer.Option(
        DEFAULT_STEM,
        "--stem",
        help="The resolver the QR codes point to, e.g. http://127.0.0.1:8000.",
    ),
    columns: int = typer.Option(3, "--columns", help="Labels across an A4 sheet."),
    rows: int = typer.Option(8, "--rows", help="Labels down an A4 sheet."),
) -> None:
    """Print A4 label sheets: each label has a QR code of the item's GS1 Digital Link,
    the product name, (01) GTIN and (21) serial, and a scratch-off box with its code.

    Prints the files written, one a line.
    """
    from veriledger.interfaces.labels import page_count, sheet_pdf, sheet_svg

    chosen = format or (LabelFormat.svg if output.suffix.lower() == ".svg" else LabelFormat.pdf)
    items = load_labels(items_file, stem)
    if chosen is LabelFormat.pdf:
        _write(output, sheet_pdf(items, columns, rows, title=items_file.stem))
        written = [output]
    else:
        documents = sheet_svg(items, columns, rows)
        written = svg_page_paths(output, len(documents))
        for path, document in zip(written, documents, strict=True):
            _write(path, document.encode("utf-8"))
    for path in written:
        typer.echo(str(path))
    typer.echo(f"{len(items)} labels on {page_count(len(items), columns, rows)} sheets", err=True)
