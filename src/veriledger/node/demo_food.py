"""The demo's food story: Mānuka honey oat clusters, from raw lots to a Shanghai shelf.

Kōwhai Valley Foods harvests a lot of Mānuka honey at its apiary in Matamata and mills
a lot of rolled oats in Hamilton. A transformation turns part of both raw lots into a
product lot of 24 serialised jars, so each jar traces back to its honey and its oats,
and each raw lot traces forward to every jar made from it. The jars are packed into
two cases and shipped by SwiftFreight from Auckland to the Ningbo bonded port, where
customs inspects and clears the food; CityMart receives, stocks and sells them.
"""

from __future__ import annotations

from typing import Any

from veriledger.chain.transactions import Transaction
from veriledger.node.demo_journeys import CONTEXT, CUSTOMS_CLEARING, NINGBO, SHOP, Signer

FOOD_PREFIX = "9421902"
HONEY_GTIN = "09421902000010"
OATS_GTIN = "09421902000027"
CLUSTERS_GTIN = "09421902000102"
HONEY_LOT = "MH-2609-14"
OATS_LOT = "OAT-2609-3"
CLUSTERS_LOT = "HOC-2610-1"
HONEY = f"urn:epc:class:lgtin:{FOOD_PREFIX}.000001.{HONEY_LOT}"
OATS = f"urn:epc:class:lgtin:{FOOD_PREFIX}.000002.{OATS_LOT}"
APIARY = f"urn:epc:id:sgln:{FOOD_PREFIX}.00010.0"
KITCHEN = f"urn:epc:id:sgln:{FOOD_PREFIX}.00020.0"
AUCKLAND = "urn:epc:id:sgln:8880000.00002.0"
CONTAINER = "urn:epc:id:giai:8880000.CNT2002"
JARS = 24
PER_CASE = 12
SOLD = 3

FOOD_PRODUCTS = {
    HONEY_GTIN: ("Mānuka honey, raw, bulk", "麦卢卡蜂蜜（原料，散装）", "food/honey", "NZ"),
    OATS_GTIN: ("Rolled oats, bulk", "燕麦片（原料，散装）", "food/cereal", "NZ"),
    CLUSTERS_GTIN: (
        "Mānuka Honey Oat Clusters 500 g",
        "麦卢卡蜂蜜燕麦脆 500克",
        "food/cereal",
        "NZ",
    ),
}
FOOD_LOCATIONS = [
    # member signing, GLN, name, Chinese name, address, country, lat, lon
    (
        "kowhai/mere",
        "9421902000102",
        "Kōwhai Valley apiary, Matamata",
        "Kōwhai 山谷蜂场（马塔马塔）",
        "Peria Road, Matamata",
        "NZ",
        "-37.8106",
        "175.7717",
    ),
    (
        "kowhai/mere",
        "9421902000201",
        "Kōwhai Valley kitchen, Hamilton",
        "Kōwhai 汉密尔顿食品工厂",
        "Te Rapa Road, Hamilton",
        "NZ",
        "-37.7870",
        "175.2793",
    ),
    (
        "swiftfreight/chen",
        "8880000000024",
        "SwiftFreight Auckland port hub",
        "迅达奥克兰港枢纽",
        "Fergusson Container Terminal, Auckland",
        "NZ",
        "-36.8420",
        "174.7860",
    ),
]


def jars() -> list[str]:
    return [f"urn:epc:id:sgtin:{FOOD_PREFIX}.000010.{2001 + i}" for i in range(JARS)]


def case_id(case: int) -> str:
    return f"urn:epc:id:sscc:{FOOD_PREFIX}.{301 + case:010d}"


def _event(kind: str, day: int, hour: int, where: str, step: str, **fields: Any) -> dict[str, Any]:
    offset = "+13:00" if where in (APIARY, KITCHEN, AUCKLAND) else "+08:00"  # local time
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


def food_batches(sign: Signer) -> list[list[Transaction]]:
    """The food story as batches, one block each, in order."""

    def capture(member: str, event: dict[str, Any]) -> Transaction:
        return sign(member, "trace.capture", {"event": event})

    cases = [jars()[c * PER_CASE : (c + 1) * PER_CASE] for c in range(JARS // PER_CASE)]
    raw = [
        capture(
            "kowhai/tom",
            _event(
                "ObjectEvent",
                1,
                9,
                APIARY,
                "commissioning",
                action="ADD",
                quantityList=[{"epcClass": HONEY, "quantity": 240, "uom": "KGM"}],
                disposition="active",
            ),
        ),
        capture(
            "kowhai/tom",
            _event(
                "ObjectEvent",
                2,
                9,
                KITCHEN,
                "commissioning",
                action="ADD",
                quantityList=[{"epcClass": OATS, "quantity": 600, "uom": "KGM"}],
                disposition="active",
            ),
        ),
    ]
    made = [
        capture(
            "kowhai/tom",
            _event(
                "TransformationEvent",
                6,
                10,
                KITCHEN,
                "commissioning",
                inputQuantityList=[
                    {"epcClass": HONEY, "quantity": 60, "uom": "KGM"},
                    {"epcClass": OATS, "quantity": 150, "uom": "KGM"},
                ],
                outputEPCList=jars(),
                disposition="active",
                ilmd={"cbvmda:lotNumber": CLUSTERS_LOT, "cbvmda:bestBeforeDate": "2027-10-06"},
            ),
        ),
        capture(
            "kowhai/mere",
            _event(
                "ObjectEvent",
                6,
                14,
                KITCHEN,
                "inspecting",
                action="OBSERVE",
                epcList=jars(),
                disposition="conformant",
            ),
        ),
    ] + [
        capture(
            "kowhai/tom",
            _event(
                "AggregationEvent",
                7,
                9,
                KITCHEN,
                "packing",
                action="ADD",
                parentID=case_id(c),
                childEPCs=items,
                disposition="in_progress",
            ),
        )
        for c, items in enumerate(cases)
    ]
    shipped = [
        capture(
            "swiftfreight/chen",
            _event(
                "AggregationEvent",
                8,
                15,
                AUCKLAND,
                "loading",
                action="ADD",
                parentID=CONTAINER,
                childEPCs=[case_id(c) for c in range(len(cases))],
                disposition="in_progress",
            ),
        ),
        capture(
            "swiftfreight/chen",
            _event(
                "ObjectEvent",
                9,
                6,
                AUCKLAND,
                "departing",
                action="OBSERVE",
                epcList=[CONTAINER],
                disposition="in_transit",
            ),
        ),
    ]
    cleared = [
        capture(
            "ningbo-customs/fang",
            _event(
                "ObjectEvent",
                22,
                8,
                NINGBO,
                "arriving",
                action="OBSERVE",
                epcList=[CONTAINER],
                disposition="in_progress",
            ),
        ),
        capture(
            "ningbo-customs/fang",
            _event(
                "AggregationEvent",
                22,
                9,
                NINGBO,
                "unloading",
                action="DELETE",
                parentID=CONTAINER,
                childEPCs=[case_id(c) for c in range(len(cases))],
                disposition="in_progress",
            ),
        ),
        capture(
            "ningbo-customs/fang",
            _event(
                "ObjectEvent",
                22,
                11,
                NINGBO,
                "inspecting",
                action="OBSERVE",
                epcList=[case_id(c) for c in range(len(cases))],
                disposition="conformant",
            ),
        ),
        capture(
            "ningbo-customs/gao",
            _event(
                "ObjectEvent",
                23,
                9,
                NINGBO,
                CUSTOMS_CLEARING,
                action="OBSERVE",
                epcList=[case_id(c) for c in range(len(cases))],
                disposition="active",
            ),
        ),
    ]
    sold = [
        capture(
            "citymart/ivan",
            _event(
                "ObjectEvent",
                24,
                10,
                SHOP,
                "receiving",
                action="OBSERVE",
                epcList=[case_id(c) for c in range(len(cases))],
                disposition="in_progress",
            ),
        ),
    ]
    sold += [
        capture(
            "citymart/ivan",
            _event(
                "AggregationEvent",
                24,
                11,
                SHOP,
                "unpacking",
                action="DELETE",
                parentID=case_id(c),
                childEPCs=items,
                disposition="sellable_accessible",
            ),
        )
        for c, items in enumerate(cases)
    ]
    sold += [
        capture(
            "citymart/ivan",
            _event(
                "ObjectEvent",
                24,
                12,
                SHOP,
                "stocking",
                action="OBSERVE",
                epcList=jars(),
                disposition="sellable_accessible",
            ),
        ),
        capture(
            "citymart/hana",
            _event(
                "ObjectEvent",
                26,
                15,
                SHOP,
                "retail_selling",
                action="OBSERVE",
                epcList=jars()[:SOLD],
                disposition="retail_sold",
            ),
        ),
    ]
    return [raw, made, shipped, cleared, sold]
