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
from veriledger.node.demo_journeys import CUSTOMS_CLEARING, NINGBO, SHOP, Signer, event

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


Step = tuple[str, dict[str, Any]]
"""Who captures an event, and the event."""


def _at(member: str, kind: str, day: int, hour: int, where: str, step: str, **fields: Any) -> Step:
    offset = "+13:00" if where in (APIARY, KITCHEN, AUCKLAND) else "+08:00"  # local time
    return member, event(kind, day, hour, where, step, offset, **fields)


def food_steps() -> list[list[Step]]:
    """The food story's events, block by block."""
    cases = [jars()[c * PER_CASE : (c + 1) * PER_CASE] for c in range(JARS // PER_CASE)]
    case_ids = [case_id(c) for c in range(len(cases))]
    tom, mere, chen = "kowhai/tom", "kowhai/mere", "swiftfreight/chen"
    fang, gao, ivan = "ningbo-customs/fang", "ningbo-customs/gao", "citymart/ivan"
    raw = [
        _at(tom, "ObjectEvent", 1, 9, APIARY, "commissioning", action="ADD",
            quantityList=[{"epcClass": HONEY, "quantity": 240, "uom": "KGM"}],
            disposition="active"),
        _at(tom, "ObjectEvent", 2, 9, KITCHEN, "commissioning", action="ADD",
            quantityList=[{"epcClass": OATS, "quantity": 600, "uom": "KGM"}],
            disposition="active"),
    ]  # fmt: skip
    made = [
        _at(tom, "TransformationEvent", 6, 10, KITCHEN, "commissioning",
            inputQuantityList=[
                {"epcClass": HONEY, "quantity": 60, "uom": "KGM"},
                {"epcClass": OATS, "quantity": 150, "uom": "KGM"},
            ],
            outputEPCList=jars(), disposition="active",
            ilmd={"cbvmda:lotNumber": CLUSTERS_LOT, "cbvmda:bestBeforeDate": "2027-10-06"}),
        _at(mere, "ObjectEvent", 6, 14, KITCHEN, "inspecting", action="OBSERVE",
            epcList=jars(), disposition="conformant"),
        *(
            _at(tom, "AggregationEvent", 7, 9, KITCHEN, "packing", action="ADD",
                parentID=case_ids[c], childEPCs=items, disposition="in_progress")
            for c, items in enumerate(cases)
        ),
    ]  # fmt: skip
    shipped = [
        _at(chen, "AggregationEvent", 8, 15, AUCKLAND, "loading", action="ADD",
            parentID=CONTAINER, childEPCs=case_ids, disposition="in_progress"),
        _at(chen, "ObjectEvent", 9, 6, AUCKLAND, "departing", action="OBSERVE",
            epcList=[CONTAINER], disposition="in_transit"),
    ]  # fmt: skip
    cleared = [
        _at(fang, "ObjectEvent", 22, 8, NINGBO, "arriving", action="OBSERVE",
            epcList=[CONTAINER], disposition="in_progress"),
        _at(fang, "AggregationEvent", 22, 9, NINGBO, "unloading", action="DELETE",
            parentID=CONTAINER, childEPCs=case_ids, disposition="in_progress"),
        _at(fang, "ObjectEvent", 22, 11, NINGBO, "inspecting", action="OBSERVE",
            epcList=case_ids, disposition="conformant"),
        _at(gao, "ObjectEvent", 23, 9, NINGBO, CUSTOMS_CLEARING, action="OBSERVE",
            epcList=case_ids, disposition="active"),
    ]  # fmt: skip
    sold = [
        _at(ivan, "ObjectEvent", 24, 10, SHOP, "receiving", action="OBSERVE",
            epcList=case_ids, disposition="in_progress"),
        *(
            _at(ivan, "AggregationEvent", 24, 11, SHOP, "unpacking", action="DELETE",
                parentID=case_ids[c], childEPCs=items, disposition="sellable_accessible")
            for c, items in enumerate(cases)
        ),
        _at(ivan, "ObjectEvent", 24, 12, SHOP, "stocking", action="OBSERVE",
            epcList=jars(), disposition="sellable_accessible"),
        _at("citymart/hana", "ObjectEvent", 26, 15, SHOP, "retail_selling", action="OBSERVE",
            epcList=jars()[:SOLD], disposition="retail_sold"),
    ]  # fmt: skip
    return [raw, made, shipped, cleared, sold]


def food_batches(sign: Signer) -> list[list[Transaction]]:
    """The food story as batches of signed captures, one block each, in order."""
    return [
        [sign(member, "trace.capture", {"event": e}) for member, e in block]
        for block in food_steps()
    ]
