// An offline map of a product's journey: pure SVG, no tiles, no network but one local JSON.
//
//   import { drawJourney } from "/static/journey-map.js";
//   await drawJourney(svg, [{ lat: 48.78, lon: 9.18, label: "Stuttgart", time: 1700000000000 }, ...]);
//
// Country outlines come from world-110m.json beside this file (Natural Earth, public
// domain; see MAP-DATA.md). The view is an equirectangular projection fitted to the stops
// plus a margin (the whole world when there are fewer than two distinct stops).

const SVG_NS = "http://www.w3.org/2000/svg";
const DEFAULT_DATA_URL = "/static/world-110m.json";
const WORLD = { minLon: -180, maxLon: 180, minLat: -58, maxLat: 84 };
const cache = new Map(); // dataUrl -> Promise<data>
const prepared = new WeakMap(); // data -> countries with bounding boxes
let clipIds = 0;

/** Fetch (once per URL) the country outlines. */
export function loadWorld(dataUrl = DEFAULT_DATA_URL) {
  if (!cache.has(dataUrl)) {
    const promise = fetch(dataUrl).then(async (res) => {
      if (!res.ok) throw new Error(`${dataUrl}: HTTP ${res.status}`);
      return res.json();
    });
    promise.catch(() => cache.delete(dataUrl));
    cache.set(dataUrl, promise);
  }
  return cache.get(dataUrl);
}

/**
 * Draw `stops` ([{lat, lon, label, time}], in journey order) into `svg`.
 *
 * options: dataUrl (default /static/world-110m.json), data (outlines already loaded),
 * width (viewBox width; default: the drawn width, 320 to 960), snapDegrees (how far off the coast a stop may lie
 * and still count for the nearest country, default 1), title (text for the aria-label).
 * Resolves to {stops, countries: [iso...], viewBox}.
 */
export async function drawJourney(svg, stops, options = {}) {
  const points = (stops ?? []).map(checkStop);
  const data = options.data ?? (await loadWorld(options.dataUrl ?? DEFAULT_DATA_URL));
  const countries = prepare(data);
  // The viewBox is as wide as the SVG is drawn (320 to 960), so markers and text keep
  // a readable size on a phone; it still scales with the page afterwards.
  if (!svg.hasAttribute("width")) svg.setAttribute("width", "100%");
  const shown = svg.getBoundingClientRect().width;
  const width = options.width ?? (shown > 0 ? Math.round(Math.min(960, Math.max(320, shown))) : 960);
  const view = fitView(points, width);
  const project = ([lon, lat]) => [
    round1((lon * view.k - view.x0) * view.scale),
    round1((-lat - view.y0) * view.scale),
  ];

  // Which country each stop lies in: the polygon that holds it, or the nearest one.
  const snap = options.snapDegrees ?? 1;
  const stopCountries = points.map((p) => locate(countries, normLon(p.lon), p.lat, snap));
  const visited = [...new Set(stopCountries.filter(Boolean))];

  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${view.height}`);
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  svg.removeAttribute("height");
  svg.style.height = "auto";
  svg.style.maxWidth = "100%";
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", summary(points, stopCountries, options.title));
  svg.classList.add("journey-map");
  svg.dataset.stops = String(points.length);
  svg.dataset.countries = visited.map((c) => c.iso ?? c.name).join(",");

  const clipId = `journey-clip-${++clipIds}`;
  const defs = el("defs");
  const clip = el("clipPath", { id: clipId });
  clip.append(el("rect", { x: 0, y: 0, width, height: view.height }));
  defs.append(clip);
  svg.append(defs);
  svg.append(el("rect", {
    class: "journey-sea", x: 0, y: 0, width, height: view.height, fill: "#eef4fb",
  }));

  // Country outlines: only rings that reach into the view, repeated across the
  // antimeridian when the route crosses it; clipped to the view.
  const land = el("g", { class: "journey-countries", "clip-path": `url(#${clipId})` });
  let drawn = 0;
  for (const country of countries) {
    const parts = [];
    for (const offset of [-360, 0, 360]) {
      if (!overlaps(country.box, offset, view)) continue;
      country.rings.forEach((ring, i) => {
        if (overlaps(country.ringBoxes[i], offset, view)) {
          parts.push(ringPath(ring, offset, project));
        }
      });
    }
    if (!parts.length) continue;
    const isVisited = visited.includes(country);
    const path = el("path", {
      class: isVisited ? "journey-country visited" : "journey-country",
      d: parts.join(""),
      "fill-rule": "evenodd",
      fill: isVisited ? "#fde7b0" : "#f4f5f2",
      stroke: isVisited ? "#b54708" : "#98a2b3",
      "stroke-width": isVisited ? 1 : 0.5,
      "stroke-linejoin": "round",
      "vector-effect": "non-scaling-stroke",
    });
    if (country.iso) path.dataset.iso = country.iso;
    path.dataset.name = country.name;
    path.append(el("title", {}, country.name));
    land.append(path);
    drawn++;
  }
  svg.append(land);
  svg.dataset.countriesDrawn = String(drawn);

  // The route, with an arrowhead half-way along each leg.
  const xy = points.map((p) => project([p.ulon, p.lat]));
  if (xy.length >= 2) {
    svg.append(el("polyline", {
      class: "journey-route",
      points: xy.map(([x, y]) => `${x},${y}`).join(" "),
      fill: "none",
      stroke: "#1570ef",
      "stroke-width": 2.5,
      "stroke-linejoin": "round",
      "stroke-linecap": "round",
    }));
    const arrows = el("g", { class: "journey-arrows", fill: "#1570ef" });
    for (let i = 1; i < xy.length; i++) {
      const [[x1, y1], [x2, y2]] = [xy[i - 1], xy[i]];
      if (Math.hypot(x2 - x1, y2 - y1) < 24) continue; // too short to carry an arrow
      const angle = (Math.atan2(y2 - y1, x2 - x1) * 180) / Math.PI;
      arrows.append(el("path", {
        class: "journey-arrow",
        d: "M-7,-5.5L7,0L-7,5.5Z",
        transform: `translate(${round1((x1 + x2) / 2)},${round1((y1 + y2) / 2)}) rotate(${round1(angle)})`,
      }));
    }
    svg.append(arrows);
  }

  // Numbered markers, the last drawn on top; each with a tooltip.
  const markers = el("g", { class: "journey-stops" });
  const placed = [];
  points.forEach((p, i) => {
    // A marker that would hide an earlier one (Ningbo and Shanghai) steps aside, with a
    // short leader line back to its place.
    let [x, y] = xy[i];
    for (let step = 0; step < 8 && placed.some(([px, py]) => Math.hypot(px - x, py - y) < 19); step++) {
      [x, y] = [round1(x + 14), round1(y - 14)];
    }
    placed.push([x, y]);
    if (x !== xy[i][0] || y !== xy[i][1]) {
      markers.append(el("line", {
        class: "journey-leader", x1: xy[i][0], y1: xy[i][1], x2: x, y2: y,
        stroke: "#344054", "stroke-width": 1,
      }));
    }
    const where = stopCountries[i]?.name;
    const g = el("g", { class: "journey-stop", transform: `translate(${x},${y})` });
    g.dataset.index = String(i + 1);
    g.append(el("title", {}, [`${i + 1}. ${p.label}`, where && where !== p.label ? ` (${where})` : "",
      p.time != null ? ` — ${formatTime(p.time)}` : ""].join("")));
    g.append(el("circle", {
      r: 10, fill: i === points.length - 1 ? "#b42318" : "#1570ef", stroke: "#fff", "stroke-width": 2,
    }));
    g.append(el("text", {
      "text-anchor": "middle", "dominant-baseline": "central", fill: "#fff",
      "font-size": 11, "font-weight": 700, "font-family": "system-ui, sans-serif",
      "pointer-events": "none",
    }, String(i + 1)));
    markers.append(g);
  });
  svg.append(markers);

  return {
    stops: points.length,
    countries: visited.map((c) => c.iso ?? c.name),
    viewBox: svg.getAttribute("viewBox"),
  };
}

// --- stops and the view ------------------------------------------------------------------

function checkStop(stop, i) {
  const lat = Number(stop?.lat);
  const lon = Number(stop?.lon);
  if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90) {
    throw new TypeError(`stop ${i + 1}: lat/lon must be numbers (lat within ±90)`);
  }
  return { lat, lon, label: String(stop.label ?? `Stop ${i + 1}`), time: stop.time };
}

const normLon = (lon) => ((((lon + 180) % 360) + 360) % 360) - 180;
const round1 = (v) => Math.round(v * 10) / 10;

/** Unwrap longitudes so that no leg is longer than 180°, then fit the view to them. */
function fitView(points, width) {
  let previous = null;
  for (const p of points) {
    let lon = normLon(p.lon);
    if (previous !== null) lon += 360 * Math.round((previous - lon) / 360);
    p.ulon = previous = lon;
  }
  const distinct = new Set(points.map((p) => `${p.lat.toFixed(4)},${normLon(p.lon).toFixed(4)}`));
  let box;
  let k;
  let margin;
  if (distinct.size < 2) {
    box = WORLD;
    k = 1;
    margin = 0;
  } else {
    const lats = points.map((p) => p.lat);
    const lons = points.map((p) => p.ulon);
    box = {
      minLon: Math.min(...lons), maxLon: Math.max(...lons),
      minLat: Math.min(...lats), maxLat: Math.max(...lats),
    };
    const midLat = Math.max(-60, Math.min(60, (box.minLat + box.maxLat) / 2));
    k = Math.cos((midLat * Math.PI) / 180);
    margin = null;
  }
  // Work in projected degrees: x = lon * k, y = -lat.
  let w = (box.maxLon - box.minLon) * k;
  let h = box.maxLat - box.minLat;
  if (margin === null) margin = Math.max(4, 0.15 * Math.max(w, h));
  w += 2 * margin;
  h += 2 * margin;
  // Height between half and four fifths of the width: landscape, readable on a phone.
  if (w / h > 2) h = w / 2;
  if (w / h < 1.25) w = h * 1.25;
  const cx = ((box.minLon + box.maxLon) / 2) * k;
  let cy = -(box.minLat + box.maxLat) / 2;
  if (h <= 180) cy = Math.max(-90 + h / 2, Math.min(90 - h / 2, cy)); // stay on the globe
  const scale = width / w;
  return {
    k, scale, x0: cx - w / 2, y0: cy - h / 2,
    height: Math.round(h * scale),
    // The view in unwrapped lon/lat, for culling outlines.
    minLon: (cx - w / 2) / k, maxLon: (cx + w / 2) / k,
    minLat: -(cy + h / 2), maxLat: -(cy - h / 2),
  };
}

function overlaps(box, offset, view) {
  return box.maxLon + offset >= view.minLon && box.minLon + offset <= view.maxLon
    && box.maxLat >= view.minLat && box.minLat <= view.maxLat;
}

function ringPath(ring, offset, project) {
  let d = "";
  ring.forEach(([lon, lat], i) => {
    const [x, y] = project([lon + offset, lat]);
    d += `${i ? "L" : "M"}${x},${y}`;
  });
  return `${d}Z`;
}

// --- countries ---------------------------------------------------------------------------

function bbox(rings) {
  const box = { minLon: Infinity, maxLon: -Infinity, minLat: Infinity, maxLat: -Infinity };
  for (const ring of rings) {
    for (const [lon, lat] of ring) {
      if (lon < box.minLon) box.minLon = lon;
      if (lon > box.maxLon) box.maxLon = lon;
      if (lat < box.minLat) box.minLat = lat;
      if (lat > box.maxLat) box.maxLat = lat;
    }
  }
  return box;
}

function prepare(data) {
  if (!prepared.has(data)) {
    if (!Array.isArray(data?.countries)) throw new Error("map data has no countries");
    prepared.set(data, data.countries.map((c) => ({
      iso: c.iso ?? null,
      name: String(c.name ?? c.iso ?? "?"),
      rings: c.rings,
      box: bbox(c.rings),
      ringBoxes: c.rings.map((ring) => bbox([ring])),
    })));
  }
  return prepared.get(data);
}

/** Even-odd ray casting over all the country's rings (so holes are holes). */
function contains(country, lon, lat) {
  const b = country.box;
  if (lon < b.minLon || lon > b.maxLon || lat < b.minLat || lat > b.maxLat) return false;
  let inside = false;
  for (const ring of country.rings) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) {
        inside = !inside;
      }
    }
  }
  return inside;
}

/** Distance in degrees (longitude shrunk by cos lat) from a point to a country's outline. */
function distance(country, lon, lat, limit) {
  const b = country.box;
  if (lon < b.minLon - limit * 3 || lon > b.maxLon + limit * 3
    || lat < b.minLat - limit || lat > b.maxLat + limit) return Infinity;
  const k = Math.cos((lat * Math.PI) / 180);
  let best = Infinity;
  for (const ring of country.rings) {
    for (let i = 1; i < ring.length; i++) {
      const ax = (ring[i - 1][0] - lon) * k;
      const ay = ring[i - 1][1] - lat;
      const bx = (ring[i][0] - lon) * k;
      const by = ring[i][1] - lat;
      const dx = bx - ax;
      const dy = by - ay;
      const len = dx * dx + dy * dy;
      const t = len ? Math.max(0, Math.min(1, -(ax * dx + ay * dy) / len)) : 0;
      best = Math.min(best, Math.hypot(ax + t * dx, ay + t * dy));
    }
  }
  return best;
}

function locate(countries, lon, lat, snap) {
  // Where outlines of different detail overlap, the smallest country that holds it.
  const area = (c) => (c.box.maxLon - c.box.minLon) * (c.box.maxLat - c.box.minLat);
  const hit = countries.filter((c) => contains(c, lon, lat))
    .reduce((a, c) => (a === null || area(c) < area(a) ? c : a), null);
  if (hit || !(snap > 0)) return hit;
  // Ports lie on coasts that low-resolution outlines cut: take the nearest country.
  let best = null;
  let bestDistance = snap;
  for (const c of countries) {
    const d = distance(c, lon, lat, snap);
    if (d <= bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

// --- text --------------------------------------------------------------------------------

function formatTime(time) {
  if (time instanceof Date) return time.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  if (typeof time === "number") return formatTime(new Date(time)); // milliseconds since 1970
  return String(time);
}

function summary(points, stopCountries, title) {
  const head = title ? `${title}: ` : "";
  if (!points.length) return `${head}World map, no journey stops`;
  const route = points.map((p, i) => {
    const where = stopCountries[i]?.name;
    return where && where !== p.label ? `${p.label} (${where})` : p.label;
  }).join(" → ");
  const n = points.length;
  return `${head}Journey map, ${n} stop${n === 1 ? "" : "s"}: ${route}`;
}

function el(name, attrs = {}, text = null) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}
