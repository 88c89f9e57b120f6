"""The demo's traceability story: 52 jackets from Stuttgart to a Shanghai shop, by sea.

Aurora Apparel commissions the jackets in two lots and packs them into four cases on
one pallet; SwiftFreight loads the pallet into a container, sails via Singapore to
the Ningbo bonded port, where customs inspects, stores and clears it; SwiftFreight
trucks it to CityMart in Shanghai, which receives, unpacks, stocks and sells. Then
the market regulator recalls the second lot. Every step is an EPCIS 2.0 event
signed by the member who did it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from veriledger.chain.transactions import Transaction

CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
GTIN_PREFIX = "urn:epc:id:sgtin:4012345.000001."
FACTORY = "urn:epc:id:sgln:4012345.00010.0"
SINGAPORE = "urn:epc:id:sgln:8880000.00001.0"
NINGBO = "urn:epc:id:sgln:6930000.00001.0"
SHOP = "urn:epc:id:sgln:6930000.00002.0"
PALLET = "urn:epc:id:sscc:4012345.0000000200"
CONTAINER = "urn:epc:id:giai:8880000.CNT1001"
CUSTOMS_CLEARING = "urn:veriledger:bizstep:customs_clearing"
CASES = 4
PER_CASE = 13
RECALLED_LOT = "JKT-2611-2"
RECALL_REASON = (
    "Zipper pull can detach: choking hazard for children / 拉链头可能脱落，存在儿童窒息风险"
)
SOLD = 5

Signer = Callable[[str, str, dict[str, Any]], Transaction]


def items(case: int) -> list[str]:
    return [f"{GTIN_PREFIX}{1000 + case * PER_CASE + i}" for i in range(PER_CASE)]


def all_items() -> list[str]:
    return [i for c in range(CASES) for i in items(c)]


def serial_of(epc: str) -> str:
    return epc.rsplit(".", 1)[1]


def case_id(case: int) -> str:
    return f"urn:epc:id:sscc:4012345.{100 + case:010d}"


def lot(case: int) -> str:
    return f"JKT-2611-{case // 2 + 1}"


def event(
    kind: str, day: int, hour: int, where: str, step: str, offset: str = "+00:00", **fields: Any
) -> dict[str, Any]:
    """One demo EPCIS event in October 2026 (safely in the past), at local ``offset``."""
    return {
        "@context": CONTEXT,
        "type": kind,
        "eventTime": f"2026-10-{day:02d}T{hour:02d}:00:00.000{offset}",
        "eventTimeZoneOffset": offset,
        "bizStep": step,
        "readPoint": {"id": where},
        "bizLocation": {"id": where},
        **fields,
    }


def journey_batches(sign: Signer, codes: list[dict[str, Any]]) -> list[list[Transaction]]:
    """The story as batches, one block each, in order; ``codes`` are the items'
    registrations (salted hashes), in the order of :func:`all_items`."""

    def capture(member: str, epcis_event: dict[str, Any]) -> Transaction:
        return sign(member, "trace.capture", {"event": epcis_event})

    every = [i for c in range(CASES) for i in items(c)]
    batches: list[list[Transaction]] = []
    batches.append(
        [
            capture(
                "aurora/ben",
                event(
                    "ObjectEvent",
                    2,
                    8 + c,
                    FACTORY,
                    "commissioning",
                    action="ADD",
                    epcList=items(c),
                    disposition="active",
                    ilmd={"cbvmda:lotNumber": lot(c)},
                ),
            )
            for c in range(CASES)
        ]
        + [
            capture(
                "aurora/ben",
                event(
                    "AggregationEvent",
                    3,
                    8 + c,
                    FACTORY,
                    "packing",
                    action="ADD",
                    parentID=case_id(c),
                    childEPCs=items(c),
                    disposition="in_progress",
                ),
            )
            for c in range(CASES)
        ]
        + [
            capture(
                "aurora/anna",
                event(
                    "AggregationEvent",
                    3,
                    15,
                    FACTORY,
                    "packing",
                    action="ADD",
                    parentID=PALLET,
                    childEPCs=[case_id(c) for c in range(CASES)],
                    disposition="in_progress",
                ),
            ),
        ]
    )
    batches.append(
        [
            capture(
                "swiftfreight/chen",
                event(
                    "AggregationEvent",
                    4,
                    9,
                    FACTORY,
                    "loading",
                    action="ADD",
                    parentID=CONTAINER,
                    childEPCs=[PALLET],
                    disposition="in_progress",
                ),
            ),
            capture(
                "swiftfreight/chen",
                event(
                    "ObjectEvent",
                    4,
                    12,
                    FACTORY,
                    "departing",
                    action="OBSERVE",
                    epcList=[CONTAINER],
                    disposition="in_transit",
                ),
            ),
            capture(
                "swiftfreight/dara",
                event(
                    "ObjectEvent",
                    20,
                    6,
                    SINGAPORE,
                    "arriving",
                    action="OBSERVE",
                    epcList=[CONTAINER],
                    disposition="in_transit",
                ),
            ),
            capture(
                "swiftfreight/dara",
                event(
                    "ObjectEvent",
                    21,
                    18,
                    SINGAPORE,
                    "departing",
                    action="OBSERVE",
                    epcList=[CONTAINER],
                    disposition="in_transit",
                ),
            ),
        ]
    )
    batches.append(
        [
            capture(
                "ningbo-customs/fang",
                event(
                    "ObjectEvent",
                    24,
                    7,
                    NINGBO,
                    "arriving",
                    action="OBSERVE",
                    epcList=[CONTAINER],
                    disposition="in_progress",
                ),
            ),
            capture(
                "ningbo-customs/fang",
                event(
                    "ObjectEvent",
                    24,
                    10,
                    NINGBO,
                    "inspecting",
                    action="OBSERVE",
                    epcList=[CONTAINER],
                    disposition="conformant",
                ),
            ),
            capture(
                "ningbo-customs/fang",
                event(
                    "AggregationEvent",
                    24,
                    12,
                    NINGBO,
                    "unloading",
                    action="DELETE",
                    parentID=CONTAINER,
                    childEPCs=[PALLET],
                    disposition="in_progress",
                ),
            ),
            capture(
                "ningbo-customs/gao",
                event(
                    "ObjectEvent",
                    24,
                    13,
                    NINGBO,
                    "storing",
                    action="OBSERVE",
                    epcList=[PALLET],
                    disposition="sellable_not_accessible",
                ),
            ),
            capture(
                "ningbo-customs/gao",
                event(
                    "ObjectEvent",
                    25,
                    1,
                    NINGBO,
                    CUSTOMS_CLEARING,
                    action="OBSERVE",
                    epcList=[PALLET],
                    disposition="active",
                ),
            ),
        ]
    )
    batches.append(
        [
            capture(
                "swiftfreight/dara",
                event(
                    "ObjectEvent",
                    25,
                    2,
                    NINGBO,
                    "departing",
                    action="OBSERVE",
                    epcList=[PALLET],
                    disposition="in_transit",
                ),
            ),
            capture(
                "citymart/ivan",
                event(
                    "ObjectEvent",
                    25,
                    3,
                    SHOP,
                    "receiving",
                    action="OBSERVE",
                    epcList=[PALLET],
                    disposition="in_progress",
                ),
            ),
            capture(
                "citymart/ivan",
                event(
                    "AggregationEvent",
                    25,
                    4,
                    SHOP,
                    "unpacking",
                    action="DELETE",
                    parentID=PALLET,
                    childEPCs=[case_id(c) for c in range(CASES)],
                    disposition="in_progress",
                ),
            ),
        ]
        + [
            capture(
                "citymart/ivan",
                event(
                    "AggregationEvent",
                    25,
                    5,
                    SHOP,
                    "unpacking",
                    action="DELETE",
                    parentID=case_id(c),
                    childEPCs=items(c),
                    disposition="sellable_accessible",
                ),
            )
            for c in range(CASES)
        ]
        + [
            capture(
                "citymart/ivan",
                event(
                    "ObjectEvent",
                    25,
                    6,
                    SHOP,
                    "stocking",
                    action="OBSERVE",
                    epcList=every,
                    disposition="sellable_accessible",
                ),
            ),
            capture(
                "citymart/hana",
                event(
                    "ObjectEvent",
                    25,
                    7,
                    SHOP,
                    "retail_selling",
                    action="OBSERVE",
                    epcList=items(0)[:SOLD],
                    disposition="retail_sold",
                ),
            ),
        ]
    )
    batches.append(
        [
            sign(
                "aurora/anna",
                "authenticity.register_codes",
                {"gtin": "04012345000016", "items": codes[c * PER_CASE : (c + 1) * PER_CASE]},
            )
            for c in range(CASES)
        ]
    )
    batches.append(
        [
            sign(
                "samr/jun",
                "trace.recall",
                {
                    "reason": RECALL_REASON,
                    "gtin": "04012345000016",
                    "lot": RECALLED_LOT,
                },
            ),
        ]
    )
    return batches
