#!/usr/bin/env python3
"""Build ``web/static/world-110m.json``: country outlines for the offline journey map.

Source: the npm package ``world-atlas@2.0.2`` (ISC licence), TopoJSON of Natural Earth
4.1.0 Admin 0 countries (public domain). The 1:110m set is the base; countries too small
to appear at 1:110m (Singapore, Bahrain, many island states) are added from the 1:50m
set of the same package, with the coarse 1:110m neighbours that would cover them
(Malaysia covers Singapore) also taken at 1:50m, so that every port city still lands in
the right country. ISO 3166-1 numeric ids are turned into alpha-2 codes with Debian's
``iso-codes`` table.

The output is plain JSON, coordinates rounded to 2 decimals::

    {"source": ..., "licence": ..., "countries":
        [{"iso": "CN", "name": "China", "rings": [[[lon, lat], ...], ...]}, ...]}

Run it once, and again only to rebuild the data (needs ``npm`` and ``iso-codes``)::

    python3 scripts/build_world_map.py                 # npm pack world-atlas@2.0.2
    python3 scripts/build_world_map.py --atlas DIR     # an unpacked package/ directory
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "veriledger" / "interfaces" / "web" / "static" / "world-110m.json"
ISO_CODES = Path("/usr/share/iso-codes/json/iso_3166-1.json")
PACKAGE = "world-atlas@2.0.2"
SOURCE = (
    "Natural Earth 4.1.0 Admin 0 countries (naturalearthdata.com), 1:110m, with the countries "
    "missing at that scale and the neighbours that cover them at 1:50m, "
    "via the npm package world-atlas@2.0.2 "
    "(countries-110m.json, countries-50m.json); rebuilt by scripts/build_world_map.py"
)
LICENCE = (
    "Natural Earth data: public domain. world-atlas packaging: ISC licence, "
    "Copyright 2013-2019 Michael Bostock."
)
# Features without an ISO 3166-1 numeric id in Natural Earth.
NO_NUMERIC = {"Kosovo": "XK"}
DECIMALS = 2


# --- TopoJSON decoding -------------------------------------------------------------------


def decode_arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """Absolute [lon, lat] arcs from quantized, delta-encoded TopoJSON arcs."""
    transform = topology.get("transform")
    arcs = []
    for arc in topology["arcs"]:
        if transform is None:
            arcs.append([(float(p[0]), float(p[1])) for p in arc])
            continue
        (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
        x = y = 0
        points = []
        for p in arc:
            x += p[0]
            y += p[1]
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring_points(
    indices: list[int], arcs: list[list[tuple[float, float]]]
) -> list[tuple[float, float]]:
    """Stitch one ring from arc indices (``~i`` means arc ``i`` reversed)."""
    ring: list[tuple[float, float]] = []
    for index in indices:
        points = arcs[index] if index >= 0 else arcs[~index][::-1]
        # Consecutive arcs share their joint point: keep it once.
        ring.extend(points[1:] if ring else points)
    return ring


def geometry_rings(
    geometry: dict[str, Any], arcs: list[list[tuple[float, float]]]
) -> list[list[tuple[float, float]]]:
    kind = geometry.get("type")
    if kind == "Polygon":
        polygons = [geometry["arcs"]]
    elif kind == "MultiPolygon":
        polygons = geometry["arcs"]
    else:
        return []
    return [ring_points(ring, arcs) for polygon in polygons for ring in polygon]


def _clip(ring: list[tuple[float, float]], keep: Any, cut: Any) -> list[tuple[float, float]]:
    """Sutherland-Hodgman against one half-plane: ``keep(p)``, ``cut(a, b)`` on the line."""
    out: list[tuple[float, float]] = []
    for a, b in zip(ring[-1:] + ring[:-1], ring, strict=True):
        if keep(b):
            if not keep(a):
                out.append(cut(a, b))
            out.append(b)
        elif keep(a):
            out.append(cut(a, b))
    return out


def _at_lon(lon: float) -> Any:
    def cut(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
        t = (lon - a[0]) / (b[0] - a[0])
        return (lon, a[1] + t * (b[1] - a[1]))

    return cut


def _area(ring: list[tuple[float, float]]) -> float:
    pairs = zip(ring, ring[1:] + ring[:1], strict=True)
    return abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in pairs)) / 2


def split_antimeridian(ring: list[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """Rings for a flat map: a ring that crosses ±180° is cut in two along it, and one
    that goes round a pole (Antarctica) is closed along the pole."""
    if all(abs(b[0] - a[0]) <= 180 for a, b in itertools.pairwise(ring)):
        return [ring]
    unwrapped = [ring[0]]
    for lon, lat in ring[1:]:
        previous = unwrapped[-1][0]
        unwrapped.append((lon + 360 * round((previous - lon) / 360), lat))
    drift = unwrapped[-1][0] - unwrapped[0][0]
    if abs(drift) > 180:  # round a pole: go down to it at the jump and back
        pole = -90.0 if sum(lat for _, lat in ring) < 0 else 90.0
        for i in range(1, len(ring)):
            a, b = ring[i - 1], ring[i]
            if abs(b[0] - a[0]) > 180:
                return [[*ring[:i], (a[0], pole), (b[0], pole), *ring[i:]]]
    pieces = []
    body = unwrapped[:-1] if unwrapped[0] == unwrapped[-1] else unwrapped
    for offset in (-360, 0, 360):
        lo, hi = -180 + offset, 180 + offset
        piece = _clip(body, lambda p, lo=lo: p[0] >= lo, _at_lon(lo))
        piece = _clip(piece, lambda p, hi=hi: p[0] <= hi, _at_lon(hi))
        if len(piece) >= 3 and _area(piece) > 1e-6:
            shifted = [(lon - offset, lat) for lon, lat in piece]
            pieces.append([*shifted, shifted[0]])
    return pieces


def rounded_ring(ring: list[tuple[float, float]]) -> list[list[float]] | None:
    """Round to DECIMALS, drop repeated points, keep the ring closed; None if degenerate."""
    out: list[list[float]] = []
    for lon, lat in ring:
        point = [round(lon, DECIMALS), round(lat, DECIMALS)]
        if not out or out[-1] != point:
            out.append(point)
    if out and out[0] != out[-1]:
        out.append(list(out[0]))
    if len({tuple(p) for p in out}) < 3:
        return None
    return out


# --- building ----------------------------------------------------------------------------


def iso_alpha2() -> dict[str, str]:
    if not ISO_CODES.exists():
        raise SystemExit(f"{ISO_CODES} is missing: apt-get install iso-codes")
    table = json.loads(ISO_CODES.read_text(encoding="utf-8"))["3166-1"]
    return {entry["numeric"]: entry["alpha_2"] for entry in table}


def countries(topology: dict[str, Any], alpha2: dict[str, str]) -> list[dict[str, Any]]:
    arcs = decode_arcs(topology)
    out = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        name = geometry.get("properties", {}).get("name", "")
        numeric = geometry.get("id")
        iso = alpha2.get(numeric) if numeric else NO_NUMERIC.get(name)
        flat = [p for ring in geometry_rings(geometry, arcs) for p in split_antimeridian(ring)]
        rings = [r for r in map(rounded_ring, flat) if r]
        if rings:
            out.append({"iso": iso, "name": name, "rings": rings})
    return out


def inside(rings: list[list[list[float]]], lon: float, lat: float) -> bool:
    """Even-odd ray casting over all rings (holes are holes)."""
    result = False
    for ring in rings:
        for (xi, yi), (xj, yj) in zip(ring, ring[-1:] + ring[:-1], strict=True):
            if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
                result = not result
    return result


def build(atlas: Path) -> tuple[dict[str, Any], list[str]]:
    """The 1:110m countries, plus those only at 1:50m, and their neighbours at 1:50m too.

    A coarse 1:110m outline can swallow a small country that only exists at 1:50m
    (Malaysia's covers Singapore): such neighbours are taken at 1:50m as well, so the
    outlines that meet there agree. Returns the data and the names taken at 1:50m.
    """
    alpha2 = iso_alpha2()
    load = lambda name: json.loads((atlas / name).read_text(encoding="utf-8"))  # noqa: E731
    coarse = {c["name"]: c for c in countries(load("countries-110m.json"), alpha2)}
    fine = {c["name"]: c for c in countries(load("countries-50m.json"), alpha2)}
    extra = [name for name in fine if name not in coarse]
    covering = {
        name
        for name, country in coarse.items()
        for small in extra
        if name in fine
        and any(inside(country["rings"], lon, lat) for r in fine[small]["rings"] for lon, lat in r)
    }
    chosen = [fine[n] if n in covering else c for n, c in coarse.items()]
    chosen += [fine[n] for n in extra]
    data = {
        "source": SOURCE,
        "licence": LICENCE,
        "countries": sorted(chosen, key=lambda c: c["name"]),
    }
    return data, sorted([*extra, *covering])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atlas", type=Path, help="an unpacked world-atlas package/ directory")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        atlas = args.atlas
        if atlas is None:
            npm = shutil.which("npm")
            if npm is None:
                raise SystemExit("npm is missing: apt-get install npm, or pass --atlas DIR")
            pack = [npm, "pack", PACKAGE, "--silent"]
            subprocess.run(pack, cwd=tmp, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
            (tarball,) = Path(tmp).glob("world-atlas-*.tgz")
            with tarfile.open(tarball) as tar:
                tar.extractall(tmp, filter="data")
            atlas = Path(tmp) / "package"
        data, at_50m = build(atlas)
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"{args.out}: {len(data['countries'])} countries, {len(text.encode()):,} bytes")
    print(f"taken at 1:50m ({len(at_50m)}): {', '.join(at_50m)}")


if __name__ == "__main__":
    main()
