"""The GS1 Digital Link resolver and the item view behind the consumer page.

``/01/{gtin}/21/{serial}``, ``/01/{gtin}/10/{lot}``, ``/01/{gtin}``, ``/00/{sscc}`` and
``/414/{gln}`` (with their key qualifiers and query attributes) are parsed strictly as
GS1 Digital Link URIs: a wrong check digit or a malformed path is a 400 problem that
names the AI. A browser gets the product's "ID card" page; an API client
(``Accept: application/linkset+json`` or ``application/json``) gets an RFC 9264
linkset; ``?linkType=<type>`` redirects to that one link, as resolvers do.

``/api/v1/items?uri=<digital link>`` is the page's data: the product, whether the
brand registered the item (``registered``: it brought it into being on the ledger;
a serial it never commissioned is an unknown item, never "brand verified"), the
earlier code checks (``checks``: a cloned code shows before anyone types it), the
journey (every event with organisation, place and time, and its receipt), the
cross-border steps, and any recall.

``/api/v1/items/verify`` checks a scratch-off code. It is an anonymous ledger write,
so it is bounded (:mod:`.ratelimit`): an item the brand never registered, or one
without a code, is answered without writing anything; the same device checking the
same item with the same result again within the window gets its earlier answer,
counted off the ledger; a malformed scan is refused at submission (the rule is
checked there); the rest is charged to the client's address.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import re
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from veriledger.chain.state import StateView
from veriledger.chain.transactions import Transaction, sign_transaction
from veriledger.core.errors import BadInputError, RejectedError
from veriledger.core.gs1 import (
    CANONICALIZE_OPTIONS,
    element_strings_from_epc_uri,
    parse_digital_link,
)
from veriledger.interfaces.http.problems import json_object
from veriledger.interfaces.http.ratelimit import WriteGuard, guard_of, too_many
from veriledger.modules.authenticity.module import (
    brought_into_being,
    checks,
    code_hash,
    item_record_key,
    registered,
)
from veriledger.modules.catalog.module import prefix_owner
from veriledger.modules.trace import cbv
from veriledger.modules.trace.module import (
    event_time_ms,
    gtin_in,
    history,
    item_key,
    lot_in,
    recalls_affecting,
    trace_back,
)
from veriledger.node.node import Node

WEB = Path(__file__).resolve().parent.parent / "web"
PRIMARY_KEYS = ("01", "00", "414", "8003", "8004", "8006", "8010", "8017", "8018", "253", "255")
LINKSET = "application/linkset+json"
LABELS = CANONICALIZE_OPTIONS
"""How the resolver reads a scanned link: strictly, except that a GTIN-8, -12 or -13
written without its leading zeros is accepted (many printed QR codes carry them), and
the page and its data speak of the item by its canonical 14-digit link."""
MAX_ORIGINS = 50
VOC = "https://gs1.org/voc/"
STEP_NAMES = {
    "commissioning": ("Produced", "生产赋码"),
    "packing": ("Packed", "装箱"),
    "loading": ("Loaded into container", "装柜"),
    "shipping": ("Shipped", "发运"),
    "departing": ("Departed", "离港"),
    "arriving": ("Arrived", "到港"),
    "unloading": ("Unloaded", "卸货"),
    "inspecting": ("Inspected", "查验"),
    "holding": ("Held", "暂扣"),
    "storing": ("Stored in bonded warehouse", "保税仓储"),
    "receiving": ("Received", "收货"),
    "accepting": ("Accepted", "验收"),
    "stocking": ("Stocked", "上架"),
    "retail_selling": ("Sold", "售出"),
    "transforming": ("Made from ingredients", "原料加工"),
    "transporting": ("In transit", "运输中"),
    "unpacking": ("Unpacked", "拆箱"),
    "customs_clearing": ("Cleared by customs", "海关放行"),
}
PRIVATE_STEPS = "urn:veriledger:bizstep:"


@functools.lru_cache(maxsize=8192)  # a ledger has few places and many events at each
def _gln_of(location_id: str) -> str | None:
    if location_id.startswith("urn:epc:id:sgln:"):
        try:
            return element_strings_from_epc_uri(location_id)[0].value
        except BadInputError:
            return None
    if "/414/" in location_id:
        return location_id.split("/414/", 1)[1][:13]
    return None


def _place(state: StateView, event: dict[str, Any]) -> dict[str, Any] | None:
    for field in ("bizLocation", "readPoint"):
        where = event.get(field)
        if isinstance(where, dict) and isinstance(where.get("id"), str):
            gln = _gln_of(where["id"])
            location = state.get(f"catalog/location/{gln}") if gln else None
            return {"id": where["id"], **(location or {})}
    return None


def _code_registered(state: StateView, values: dict[str, str]) -> bool:
    """Whether the brand registered a verification code for this serialised item."""
    if "01" not in values or "21" not in values:
        return False
    return state.get(item_record_key(values["01"], values["21"])) is not None


MAX_LOT_ITEMS = 20
"""Items of a lot looked at for a lot page's ``registered``."""


def _registered(
    state: StateView, values: dict[str, str], key: str, owner: tuple[str, str] | None
) -> bool | None:
    """Whether the brand registered what the page is about; None when it is not a trade
    item (an SSCC, a GLN...), which has no brand line.

    A serial: the brand brought it into being (see
    :func:`~veriledger.modules.authenticity.module.registered`). A lot: the brand
    brought the lot itself, or an item commissioned into it, into being. A GTIN: the
    brand defined the product.
    """
    gtin = values.get("01")
    if gtin is None:
        return None
    if owner is None:
        return False
    if "21" in values:
        return registered(state, gtin, values["21"])
    if "10" in values:
        if brought_into_being(state, key, owner[1]):
            return True
        prefix = f"trace/lot/{gtin}/{values['10']}/"
        for n, (item_path, _) in enumerate(state.scan(prefix)):
            if n >= MAX_LOT_ITEMS:
                break
            if brought_into_being(state, item_path.removeprefix(prefix), owner[1]):
                return True
        return False
    product = state.get(f"catalog/product/{gtin}")
    return product is not None and product.get("org") == owner[1]


class ItemViews:
    """Item views by block height, as the JSON bytes the page fetches: the committed
    state, and so the view, changes only when a block commits, while a popular item's
    page is read many times a second."""

    def __init__(self, node: Node, size: int = 4096) -> None:
        self.node = node
        self.size = size
        self._views: dict[str, tuple[int, bytes]] = {}

    def cached(self, uri: str) -> bytes | None:
        """The view of ``uri`` if it is current (cheap enough for the event loop)."""
        found = self._views.get(uri)
        return found[1] if found is not None and found[0] == self.node.height else None

    def render(self, uri: str) -> bytes:
        """:func:`item_view` as JSON, computed once per item and block height.

        Raises:
            GS1Error: as :func:`item_view`.
        """
        height = self.node.height
        view = orjson.dumps(item_view(self.node, uri))
        if len(self._views) >= self.size:
            self._views.clear()
        self._views[uri] = (height, view)
        return view


def item_view(node: Node, uri: str) -> dict[str, Any]:
    """Everything the product page shows, from committed state.

    Raises:
        GS1Error: ``uri`` is not a valid GS1 Digital Link.
    """
    link = parse_digital_link(uri, LABELS)
    state = node.state()
    key = item_key(link.canonical_uri())
    values = {e.ai: e.value for e in link.element_strings}
    gtin = values.get("01")
    product = state.get(f"catalog/product/{gtin}") if gtin else None
    owner = prefix_owner(state, gtin) if gtin else None
    known = _registered(state, values, key, owner)
    orgs = {o["id"]: o for _, o in state.scan("identity/org/")}
    records = history(state, key)
    journey = [_step(state, r, orgs) for r in records]
    origins = _origins(state, key)
    if origins and records:
        # An ingredient's steps up to the item's first one are the item's story too.
        made = event_time_ms(records[0]["event"].get("eventTime"))
        seen = {r["tx"] for r in records}
        for origin in origins:
            for record in history(state, origin["item"]):
                when = event_time_ms(record["event"].get("eventTime"))
                if record["tx"] not in seen and when <= made:
                    seen.add(record["tx"])
                    journey.append(_step(state, record, orgs, origin))
        journey.sort(key=lambda step: event_time_ms(step["time"]))
    recalls = [
        {
            "id": r["id"],
            "reason": r["reason"],
            "org": r["org"],
            "time": r["time"],
            "kind": r["kind"],
        }
        for r in recalls_affecting(state, key)
    ]
    return {
        "uri": link.canonical_uri(),
        "item": key,
        "gtin": gtin,
        "hri": link.hri,
        "product": product,
        "registered": known,
        "brand": {
            "verified": owner is not None and known is True,
            "org": owner[1] if owner else None,
            "name": orgs.get(owner[1], {}).get("name") if owner else None,
            "prefix": owner[0] if owner else None,
        },
        "checks": checks(state, gtin, values["21"]) if gtin and "21" in values else None,
        "journey": journey,
        "origins": origins,
        "recalls": recalls,
        "authenticity": known is True and _code_registered(state, values),
        "policy": "/tlog/policy",
        "quorum": node.policy.describe_quorum(),
    }


def _step(
    state: StateView,
    record: dict[str, Any],
    orgs: dict[str, Any],
    origin: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One step of the journey as the page shows it; ``origin`` marks an ingredient's."""
    event = record["event"]
    step = cbv.bare(str(event.get("bizStep", "")), (*cbv.BIZ_STEPS_PREFIXES, PRIVATE_STEPS))
    org = orgs.get(record["org"], {})
    customs = org.get("kind") == "customs"
    if event.get("type") == "TransformationEvent":
        en, zh = STEP_NAMES["transforming"]
    elif step == "inspecting" and customs:
        en, zh = "Inspected by customs", "海关查验"
    else:
        en, zh = STEP_NAMES.get(step, (step.replace("_", " ").capitalize(), step))
    return {
        "step": step,
        "label": {"en": en, "zh": zh},
        "time": event.get("eventTime"),
        "recordTime": event.get("recordTime"),
        "type": event.get("type"),
        "action": event.get("action"),
        "disposition": cbv.bare(str(event.get("disposition", "")), cbv.DISPOSITIONS_PREFIXES),
        "org": {"id": record["org"], "name": org.get("name"), "kind": org.get("kind")},
        "place": _place(state, event),
        "via": record.get("via"),
        "origin": origin,
        "crossBorder": customs or step == "customs_clearing",
        "eventID": event.get("eventID"),
        "receipt": f"/api/v1/transactions/{record['tx']}/receipt",
    }


def _origins(state: StateView, key: str) -> list[dict[str, Any]]:
    """What the item was made from (transformation inputs, recursively), with each
    ingredient's product and lot, so a jar names its honey and its oats."""
    out = []
    for origin in trace_back(state, key)[:MAX_ORIGINS]:
        gtin, lot = gtin_in(origin), lot_in(origin)
        product = state.get(f"catalog/product/{gtin}") or {}
        out.append(
            {
                "item": origin,
                "gtin": gtin,
                "lot": lot,
                "name": product.get("name"),
                "name_zh": product.get("name_zh"),
                "link": origin.removeprefix("https://id.gs1.org"),
            }
        )
    return out


VERDICT_MESSAGES = {
    "genuine-first": (
        "Genuine. This is the first time this code has been checked.",
        "正品。这是该验证码第一次被查验。",
    ),
    "suspected-clone": (
        "Warning: this code was already checked {earlier} before, first on {when}{where_en}. "
        "This item may be a copy.",
        "警告：该验证码此前已被查验 {earlier_zh} 次，首次于 {when}{where_zh}。此商品可能是仿冒品。",
    ),
    "unknown-code": (
        "This code does not match this item. It may be a counterfeit.",
        "验证码与该商品不符，可能是假冒商品。",
    ),
    "unknown-item": (
        "Unknown item: its brand never registered this serial number. It may be a counterfeit.",
        "未知商品：品牌方从未登记该序列号，可能是假冒商品。",
    ),
    "no-code": (
        "The brand registered no verification code for this item.",
        "品牌方未为该商品登记验证码。",
    ),
}
REPEAT_NOTE = (
    " (You checked again from this device: repeat {n} of this answer, not recorded again.)",
    "（本设备再次查验：同一结果第 {n} 次重复，不再重复记录。）",
)
MAX_CODE = 64
MAX_PLACE = 64
SCAN_COUNTRY = re.compile(r"[A-Z]{2}")


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def verdict_message(event: dict[str, Any]) -> dict[str, str]:
    """The consumer's message for a scan's verdict, in English and Chinese.

    A ``suspected-clone`` event's ``count`` includes this scan, so the earlier checks
    are one fewer; a first check without a known place says no place (never "in ?").
    """
    en, zh = VERDICT_MESSAGES[event["verdict"]]
    first = event.get("first") or {}
    when = ""
    if isinstance(first.get("time"), int):
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(first["time"] / 1000))
    where = first.get("place") or first.get("country") or ""
    earlier = max(int(event.get("count") or 1) - 1, 1)
    fields = {
        "earlier": _times(earlier),
        "earlier_zh": earlier,
        "when": when or "an unknown date",
        "where_en": f" in {where}" if where else "",
        "where_zh": f" 在 {where}" if where else "",
    }
    zh_fields = {**fields, "when": when or "未知时间"}
    return {"en": en.format(**fields), "zh": zh.format(**zh_fields)}


def sgtin_of(uri: str) -> tuple[str, str]:
    """``(gtin, serial)`` of a Digital Link naming one serialised item.

    Raises:
        BadInputError: a malformed link, or one that names no serial.
    """
    link = parse_digital_link(uri, LABELS)
    values = {e.ai: e.value for e in link.element_strings}
    if "01" not in values or "21" not in values:
        raise BadInputError("uri: must name one serialised item (01 and 21)")
    return values["01"], values["21"]


def scanner_id(address: str, user_agent: str) -> str:
    """A pseudonym for the consumer's device, new each day: scans of one phone on one
    day can be told apart from another phone's, but no person is named."""
    return hashlib.sha256(
        f"{address}|{user_agent}|{time.strftime('%Y-%m-%d')}".encode()
    ).hexdigest()[:16]


def relay(
    node: Node, kind: str, body: dict[str, Any], event_type: str
) -> tuple[Transaction, dict[str, Any]]:
    """Submit a consumer's check as this node's gateway member and wait for its block.

    Raises:
        RejectedError: the ledger refused it (the code and reason say why), at
            submission (nothing stored) or in its block.
        BadInputError: the node relays no consumer checks.
    """
    tx = sign_transaction(node.member_key(node.gateway_member()), node.chain, kind, body)
    result = node.submit([tx], signed_here=True)[0].result(timeout=30)
    if result.status != "committed":
        module, _, number = (result.code or "node/0").partition("/")
        raise RejectedError(module, int(number) if number.isdigit() else 0, result.reason or "")
    row = node.storage.tx(tx.id)
    return tx, next(e for e in (row.events if row else []) if e.get("type") == event_type)


def where_fields(body: dict[str, Any]) -> dict[str, str]:
    """The optional ``country``, ``place`` (and ``lat``, ``lon``) a consumer sent, checked
    here as the rule would, and bounded: they go on the ledger.

    Raises:
        BadInputError: naming the field.
    """
    out: dict[str, str] = {}
    for field in ("country", "place", "lat", "lon"):
        value = body.get(field)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise BadInputError(f"{field}: must be a string")
        value = value.strip()
        if field == "country" and not SCAN_COUNTRY.fullmatch(value.upper()):
            raise BadInputError(f"{field}: {value!r} is not an ISO 3166-1 alpha-2 code")
        if len(value) > MAX_PLACE:
            raise BadInputError(f"{field}: longer than {MAX_PLACE} characters")
        if value:
            out[field] = value.upper() if field == "country" else value
    return out


@dataclass(frozen=True)
class ScanRequest:
    """A code check, read and judged against committed state, before any write."""

    scan: dict[str, Any]
    """The ``authenticity.scan`` body to relay."""
    key: Hashable
    """What makes two checks identical: item, code result and scanner."""
    answer: dict[str, Any] | None = None
    """Set when nothing is to be written: the answer itself."""


def prepare_scan(node: Node, body: dict[str, Any], address: str, user_agent: str) -> ScanRequest:
    """Read a consumer's code check and decide whether it is a ledger write.

    Raises:
        BadInputError: no uri or code, a malformed link or place fields.
    """
    uri, code = body.get("uri"), body.get("code")
    if not isinstance(uri, str) or not isinstance(code, str) or not code.strip():
        raise BadInputError("uri and code are required strings")
    if len(code.strip()) > MAX_CODE:
        raise BadInputError(f"code: longer than {MAX_CODE} characters")
    gtin, serial = sgtin_of(uri)
    where = where_fields(body)
    state = node.state()
    if not registered(state, gtin, serial):
        event = {"verdict": "unknown-item", "anomalies": []}
        answer = {"gtin": gtin, "serial": serial, "registered": False, **event}
        return ScanRequest({}, None, {**answer, "message": verdict_message(event)})
    item = state.get(item_record_key(gtin, serial))
    if item is None:
        event = {"verdict": "no-code", "anomalies": []}
        answer = {"gtin": gtin, "serial": serial, "registered": True, **event}
        return ScanRequest({}, None, {**answer, "message": verdict_message(event)})
    digest = code_hash(base64.b64decode(item["salt"]), gtin, serial, code.strip().upper())
    scanner = scanner_id(address, user_agent)
    scan = {"gtin": gtin, "serial": serial, "code_hash": digest, "scanner": scanner, **where}
    result = "match" if digest == item["code_hash"] else "no-match"
    return ScanRequest(scan, ("scan", gtin, serial, result, scanner))


def relay_scan(node: Node, scan: dict[str, Any]) -> dict[str, Any]:
    """Relay a prepared scan and answer with its verdict and receipt.

    Raises:
        RejectedError: as :func:`relay`.
    """
    tx, event = relay(node, "authenticity.scan", scan, "authenticity.scanned")
    return {
        **{k: v for k, v in event.items() if k not in ("type",)},
        "registered": True,
        "message": verdict_message(event),
        "receipt": f"/api/v1/transactions/{tx.id}/receipt",
    }


def with_repeat(answer: dict[str, Any], n: int) -> dict[str, Any]:
    """An earlier answer given again to an identical check, marked as a repeat."""
    en, zh = REPEAT_NOTE
    message = answer.get("message") or {"en": "", "zh": ""}
    return {
        **answer,
        "repeat": n,
        "message": {"en": message["en"] + en.format(n=n), "zh": message["zh"] + zh.format(n=n)},
    }


async def write_once(
    guard: WriteGuard, address: str, key: Hashable, work: Callable[[], dict[str, Any]]
) -> Response:
    """Run the ledger write ``work`` for ``key`` unless an identical one was answered
    within the window (or is being relayed now): then its answer is given again and
    counted here, off the ledger. A write that does run is charged to ``address``
    first, and refused with 429 beyond its limits.

    Raises:
        VeriledgerError: whatever ``work`` raised (for the waiting repeats too).
    """
    earlier = guard.answers.repeat(key)
    if earlier is None and key in guard.in_flight:
        await asyncio.shield(guard.in_flight[key])
        earlier = guard.answers.repeat(key)
    if earlier is not None:
        return JSONResponse(with_repeat(*earlier))
    wait = guard.limiter.take(address)
    if wait:
        return too_many(wait, address)
    pending: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    guard.in_flight[key] = pending
    try:
        answer = await asyncio.to_thread(work)
    except BaseException as exc:
        pending.set_exception(exc)
        pending.exception()  # retrieved: the waiting repeats re-raise it themselves
        raise
    else:
        guard.answers.remember(key, answer)
        pending.set_result(None)
    finally:
        guard.in_flight.pop(key, None)
    return JSONResponse(answer)


def linkset(node: Node, request: Request, uri: str) -> dict[str, Any]:
    view_path = request.url.path
    key = item_key(parse_digital_link(uri, LABELS).canonical_uri())
    links = {
        f"{VOC}defaultLink": [{"href": view_path, "title": "Product ID card", "type": "text/html"}],
        f"{VOC}pip": [{"href": view_path, "type": "text/html"}],
        f"{VOC}epcis": [
            {"href": f"/epcis/epcs/{quote(key, safe='')}/events", "type": "application/ld+json"}
        ],
        f"{VOC}traceability": [
            {"href": f"/api/v1/items?uri={quote(uri, safe='')}", "type": "application/json"}
        ],
        f"{VOC}certificationInfo": [{"href": "/tlog/policy", "type": "text/plain"}],
    }
    return {"linkset": [{"anchor": parse_digital_link(uri, LABELS).canonical_uri(), **links}]}


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return LINKSET in accept or ("application/json" in accept and "text/html" not in accept)


def create_router(node: Node) -> APIRouter:
    router = APIRouter()

    async def resolve(request: Request, rest: str) -> Response:
        base = str(request.base_url).rstrip("/")
        uri = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        link = parse_digital_link(uri, LABELS)  # 400 problem naming the AI when malformed
        link_type = request.query_params.get("linkType")
        if link_type and link_type != "all":
            wanted = (
                link_type if link_type.startswith("http") else VOC + link_type.removeprefix("gs1:")
            )
            targets = linkset(node, request, uri)["linkset"][0].get(wanted)
            if not targets:
                raise BadInputError(f"linkType: no {link_type} link for this item")
            return RedirectResponse(targets[0]["href"], status_code=307)
        if link_type == "all" or _wants_json(request):
            return JSONResponse(
                linkset(node, request, uri),
                media_type=LINKSET,
                headers={"Link": f'<{request.url.path}>; rel="linkset"'},
            )
        del link, rest
        return FileResponse(WEB / "product.html", media_type="text/html")

    for ai in PRIMARY_KEYS:
        router.add_api_route(
            f"/{ai}/{{rest:path}}",
            resolve,
            methods=["GET"],
            include_in_schema=ai == "01",
            name=f"resolve-{ai}",
        )

    @router.post("/api/v1/items/verify")
    async def verify(request: Request) -> Response:
        """A consumer's authenticity check: the code under the scratch-off layer.

        At most the address's share of anonymous ledger writes (429 with
        ``Retry-After`` beyond it); a repeat of the same check is answered again.
        """
        body = json_object(await request.body())
        guard = guard_of(request)
        address = guard.client(request)
        agent = request.headers.get("user-agent", "")
        prepared = await asyncio.to_thread(prepare_scan, node, body, address, agent)
        if prepared.answer is not None:
            return JSONResponse(prepared.answer)
        return await write_once(
            guard, address, prepared.key, functools.partial(relay_scan, node, prepared.scan)
        )

    views = ItemViews(node)

    @router.get("/api/v1/items")
    async def items(uri: str) -> Response:
        """The product page's data for one GS1 Digital Link."""
        body = views.cached(uri) or await asyncio.to_thread(views.render, uri)
        return Response(body, media_type="application/json")

    return router
