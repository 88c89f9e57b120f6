"""The trace module: capture rules, history through aggregation, trace back and forward, recalls."""

from __future__ import annotations

from typing import Any

import pytest

from tests.modules.harness import CHAIN, Chain, tx
from veriledger.chain.driver import BlockContext, admit_transaction
from veriledger.chain.module import Rejection
from veriledger.chain.state import BlockState
from veriledger.modules import catalog, identity
from veriledger.modules.trace import module as trace

ORGS = [
    ("brand", "brand", [("brand/ops", ["operator"])]),
    ("carrier", "logistics", [("carrier/ops", ["operator"])]),
    ("customs", "customs", [("customs/ops", ["inspector"])]),
    ("samr", "regulator", [("samr/ops", ["auditor"])]),
]
ITEM = "urn:epc:id:sgtin:4012345.000001.{}"
CASE = "urn:epc:id:sscc:4012345.0000000001"
PALLET = "urn:epc:id:sscc:4012345.0000000002"
CONTAINER = "urn:epc:id:giai:4012345.CONT42"


def chain() -> Chain:
    c = Chain([catalog.MODULE, trace.MODULE], ORGS, start_ms=1_800_000_000_000)
    assert c.run(tx("brand/ops", "catalog.claim_prefix", {"prefix": "4012345"}))[0][0]
    return c


def ev(kind: str, when: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "eventTime": f"2026-10-{when}T10:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        **fields,
    }


def commissioning(when: str, items: list[str], lot: str, **fields: Any) -> dict[str, Any]:
    """Items of a lot coming into being (the event most tests start from)."""
    return ev(
        "ObjectEvent",
        when,
        epcList=items,
        action="ADD",
        bizStep="commissioning",
        ilmd={"cbvmda:lotNumber": lot},
        **fields,
    )


def capture(
    c: Chain, member: str, *events: dict[str, Any]
) -> list[tuple[bool, str | None, str | None]]:
    return c.run(*[tx(member, "trace.capture", {"event": e}) for e in events])


def test_history_follows_the_containers_while_the_item_is_inside() -> None:
    c = chain()
    items = [ITEM.format(n) for n in (1, 2)]
    results = capture(
        c,
        "brand/ops",
        commissioning("01", items, "L1"),
        ev(
            "AggregationEvent",
            "02",
            parentID=CASE,
            childEPCs=items,
            action="ADD",
            bizStep="packing",
        ),
        ev(
            "AggregationEvent",
            "03",
            parentID=PALLET,
            childEPCs=[CASE],
            action="ADD",
            bizStep="packing",
        ),
    )
    assert all(r[0] for r in results), results
    assert all(
        r[0]
        for r in capture(
            c,
            "carrier/ops",
            ev(
                "AggregationEvent",
                "04",
                parentID=CONTAINER,
                childEPCs=[PALLET],
                action="ADD",
                bizStep="loading",
            ),
            ev("ObjectEvent", "05", epcList=[CONTAINER], action="OBSERVE", bizStep="shipping"),
        )
    )
    assert all(
        r[0]
        for r in capture(
            c,
            "customs/ops",
            ev("ObjectEvent", "06", epcList=[CONTAINER], action="OBSERVE", bizStep="inspecting"),
            ev(
                "AggregationEvent",
                "07",
                parentID=CONTAINER,
                childEPCs=[PALLET],
                action="DELETE",
                bizStep="unloading",
            ),
            ev("ObjectEvent", "08", epcList=[CONTAINER], action="OBSERVE", bizStep="shipping"),
        )
    )
    steps = [r["event"]["bizStep"] for r in trace.history(c.state, items[0])]
    # the container's second shipping happened after the pallet left it: not this item's
    assert steps == [
        "commissioning",
        "packing",
        "packing",
        "loading",
        "shipping",
        "inspecting",
        "unloading",
    ]
    # the Digital Link spelling of the item finds the same history
    dl = "https://id.gs1.org/01/04012345000016/21/1"
    assert len(trace.history(c.state, dl)) == 7


def test_capture_rules() -> None:
    c = chain()
    item = ITEM.format(9)
    commission = ev("ObjectEvent", "01", epcList=[item], action="ADD", bizStep="commissioning")
    results = capture(c, "carrier/ops", commission)
    assert results[0][1] == "trace/7" and "brand" in (results[0][2] or "")
    assert capture(c, "brand/ops", commission)[0][0]
    assert capture(c, "brand/ops", commission)[0][1] == "trace/3"
    results = capture(
        c,
        "brand/ops",
        ev("ObjectEvent", "02", epcList=[item], action="OBSERVE", bizStep="juggling"),
        ev(
            "ObjectEvent",
            "03",
            epcList=[item],
            action="OBSERVE",
            bizStep="https://example.com/step/x",
        ),
        {
            **ev("ObjectEvent", "04", epcList=[item], action="OBSERVE"),
            "eventTime": "2099-01-01T00:00:00Z",
        },
        {**ev("ObjectEvent", "05", epcList=[item], action="OBSERVE"), "eventTime": "soon"},
        ev("Nothing", "05"),
        {**ev("ObjectEvent", "06", epcList=[item], action="OBSERVE"), "eventID": "urn:uuid:1"},
        {**ev("ObjectEvent", "07", epcList=[item], action="OBSERVE"), "eventID": "urn:uuid:1"},
    )
    assert [r[1] for r in results] == [
        "trace/6",
        None,
        "trace/5",
        "trace/2",
        "trace/1",
        None,
        "trace/4",
    ]
    # an unclaimed prefix is not blocked (official examples are captured this way)
    other = ev(
        "ObjectEvent",
        "08",
        epcList=["urn:epc:id:sgtin:0614141.107346.2017"],
        action="ADD",
        bizStep="commissioning",
    )
    assert capture(c, "carrier/ops", other)[0][0]


def test_admission_refuses_exactly_what_the_block_refuses() -> None:
    """The submission checks run the cheaper ``admit_capture``, the block ``capture``;
    one batch through both gives the same verdict for every event, duplicates within
    the batch included."""
    c = chain()
    item = ITEM.format("adm")
    fresh = commissioning("01", [item], "L1")
    batch = [
        ("brand/ops", fresh),
        ("brand/ops", fresh),  # the same event again, in the same batch
        (
            "brand/ops",
            {**ev("ObjectEvent", "02", epcList=[item], action="OBSERVE"), "eventID": "x:1"},
        ),
        (
            "brand/ops",
            {**ev("ObjectEvent", "03", epcList=[item], action="OBSERVE"), "eventID": "x:1"},
        ),
        ("carrier/ops", commissioning("04", [ITEM.format("adm2")], "L2")),
        ("brand/ops", ev("ObjectEvent", "05", epcList=[item], action="OBSERVE", bizStep="dance")),
        (
            "brand/ops",
            {**ev("ObjectEvent", "06", epcList=[item], action="OBSERVE"), "eventTime": "x"},
        ),
        (
            "brand/ops",
            {**ev("ObjectEvent", "07", epcList=[item]), "eventTime": "2099-01-01T00:00:00Z"},
        ),
        ("brand/ops", ev("ObjectEvent", "08", epcList=[item], action="OBSERVE")),
    ]
    txs = [tx(member, "trace.capture", {"event": event}) for member, event in batch]
    block = BlockContext(CHAIN, c.height + 1, c.start_ms + 1000 * (c.height + 1), "00")
    state = BlockState(c.state)
    admitted: list[str | None] = []
    for t in txs:
        _, body, ctx = admit_transaction(state, t, block, c.registry, identity.authorize)
        try:
            state.apply(trace.admit_capture(state, body, ctx).writes)
            admitted.append(None)
        except Rejection as rejection:
            admitted.append(f"{rejection.module}/{rejection.code}")
    in_block = [code for _, code, _ in c.run(*txs)]
    assert admitted == in_block
    assert in_block == [
        None,
        "trace/3",
        None,
        "trace/4",
        "trace/7",
        "trace/6",
        "trace/2",
        "trace/5",
        None,
    ]


def _food_chain(c: Chain) -> tuple[str, list[str]]:
    """Raw lot R1 is transformed into product lot P7, whose items are then sold."""
    raw = "urn:epc:class:lgtin:4012345.000002.R1"
    product_items = [ITEM.format(f"p{n}") for n in range(3)]
    assert all(
        r[0]
        for r in capture(
            c,
            "brand/ops",
            ev(
                "ObjectEvent",
                "01",
                quantityList=[{"epcClass": raw, "quantity": 10, "uom": "KGM"}],
                action="ADD",
                bizStep="commissioning",
            ),
            ev(
                "TransformationEvent",
                "02",
                inputQuantityList=[{"epcClass": raw, "quantity": 10, "uom": "KGM"}],
                outputEPCList=product_items,
                bizStep="commissioning",
                ilmd={"cbvmda:lotNumber": "P7"},
            ),
        )
    )
    return raw, product_items


def test_trace_back_and_forward() -> None:
    c = chain()
    raw, items = _food_chain(c)
    raw_key = trace.item_key(raw)
    assert raw_key == "https://id.gs1.org/01/04012345000023/10/R1"
    assert trace.trace_back(c.state, items[0]) == [raw_key]
    forward = trace.trace_forward(c.state, [raw])
    assert {trace.item_key(i) for i in items} <= set(forward)


def test_recall_reaches_derived_items_and_reports_them() -> None:
    c = chain()
    _, items = _food_chain(c)
    refused = c.run(
        tx("carrier/ops", "trace.recall", {"reason": "x", "gtin": "04012345000023", "lot": "R1"})
    )
    assert refused[0][1] == "trace/9"
    assert c.run(tx("brand/ops", "trace.recall", {"reason": "x", "items": []}))[0][1] == "trace/8"
    result = c.run(
        tx(
            "samr/ops",
            "trace.recall",
            {"reason": "Listeria found in raw lot R1", "gtin": "04012345000023", "lot": "R1"},
        )
    )
    assert result[0][0], result
    recalls = trace.recalls_affecting(c.state, items[1])
    assert [r["reason"] for r in recalls] == ["Listeria found in raw lot R1"]
    recall_id = recalls[0]["id"]
    report = trace.recall_report(c.state, recall_id)
    assert {row["item"] for row in report} == {trace.item_key(i) for i in items}
    assert all(row["last_custodian"] == "brand" for row in report)
    # an unrelated item is not affected
    assert trace.recalls_affecting(c.state, ITEM.format("other")) == []


@pytest.mark.parametrize(
    ("epc", "key"),
    [
        ("urn:epc:id:sgtin:4012345.000001.7", "https://id.gs1.org/01/04012345000016/21/7"),
        (
            "https://brand.example/01/04012345000016/21/7?17=261231",
            "https://id.gs1.org/01/04012345000016/21/7",
        ),
        ("urn:epc:id:sscc:4012345.0000000001", "https://id.gs1.org/00/040123450000000016"),
        ("urn:example:private:thing", "urn:example:private:thing"),
    ],
)
def test_item_keys_are_one_spelling_per_item(epc: str, key: str) -> None:
    assert trace.item_key(epc) == key


@pytest.mark.parametrize(
    "event",
    [
        ev("ObjectEvent", "01", epcList=[ITEM.format("x1")], action="ADD"),  # no bizStep
        ev(
            "ObjectEvent",
            "01",
            epcList=[ITEM.format("x2")],
            action="ADD",
            bizStep="creating_class_instance",
        ),
        ev(
            "ObjectEvent",
            "01",
            quantityList=[{"epcClass": "urn:epc:class:lgtin:4012345.000001.L9", "quantity": 1}],
            action="ADD",
        ),
        ev(
            "TransformationEvent",
            "01",
            inputEPCList=["urn:epc:id:sgtin:0614141.107346.1"],
            outputEPCList=[ITEM.format("x3")],
        ),
    ],
)
def test_only_the_prefix_owner_brings_its_items_into_being(event: dict[str, Any]) -> None:
    c = chain()
    assert capture(c, "carrier/ops", event)[0][1] == "trace/7"
    assert capture(c, "brand/ops", event)[0][0]


def test_a_carrier_may_observe_and_pack_the_brands_items() -> None:
    c = chain()
    item = ITEM.format("y1")
    assert capture(c, "brand/ops", ev("ObjectEvent", "01", epcList=[item], action="ADD"))[0][0]
    results = capture(
        c,
        "carrier/ops",
        ev("ObjectEvent", "02", epcList=[item], action="OBSERVE", bizStep="shipping"),
        ev("AggregationEvent", "03", parentID=PALLET, childEPCs=[item], action="ADD"),
    )
    assert all(r[0] for r in results), results


def test_lot_to_lot_transformation_reaches_the_product_lots_items() -> None:
    """Raw lot R2 becomes product lot P8 as a quantity; items commissioned into P8
    later trace back to R2, and a recall of R2 reaches them."""
    c = chain()
    raw = "urn:epc:class:lgtin:4012345.000002.R2"
    product = "urn:epc:class:lgtin:4012345.000001.P8"
    items = [ITEM.format(f"q{n}") for n in range(2)]
    results = capture(
        c,
        "brand/ops",
        ev("ObjectEvent", "01", quantityList=[{"epcClass": raw, "quantity": 5}], action="ADD"),
        ev(
            "TransformationEvent",
            "02",
            inputQuantityList=[{"epcClass": raw, "quantity": 5}],
            outputQuantityList=[{"epcClass": product, "quantity": 50}],
        ),
        commissioning("03", items, "P8"),
    )
    assert all(r[0] for r in results), results
    raw_key = "https://id.gs1.org/01/04012345000023/10/R2"
    # the item's own lot P8 is its class, not an origin
    assert trace.trace_back(c.state, items[0]) == [raw_key]
    recall = {"reason": "allergen", "gtin": "04012345000023", "lot": "R2"}
    assert c.run(tx("samr/ops", "trace.recall", recall))[0][0]
    assert [r["lot"] for r in trace.recalls_affecting(c.state, items[1])] == ["R2"]


def test_recall_report_places_an_item_where_its_container_is() -> None:
    c = chain()
    items = [ITEM.format(f"z{n}") for n in range(3)]
    results = capture(
        c,
        "brand/ops",
        commissioning("01", items, "Z1", bizLocation={"id": "urn:epc:id:sgln:4012345.00010.0"}),
        ev("AggregationEvent", "02", parentID=CASE, childEPCs=items, action="ADD"),
        ev("AggregationEvent", "03", parentID=PALLET, childEPCs=[CASE], action="ADD"),
    )
    assert all(r[0] for r in results), results
    shipped = ev(
        "ObjectEvent",
        "04",
        epcList=[PALLET],
        action="OBSERVE",
        bizStep="departing",
        bizLocation={"id": "urn:epc:id:sgln:4012345.00020.0"},
    )
    assert capture(c, "carrier/ops", shipped)[0][0]
    ok, _, _ = c.run(
        tx("samr/ops", "trace.recall", {"reason": "r", "gtin": "04012345000016", "lot": "Z1"})
    )[0]
    assert ok
    recall_id = next(k for k, _ in c.state.scan("trace/recall/")).rsplit("/", 1)[1]
    rows = trace.recall_report(c.state, recall_id)
    assert {r["last_custodian"] for r in rows} == {"carrier"}
    assert {r["last_location"] for r in rows} == {"urn:epc:id:sgln:4012345.00020.0"}


def test_a_lot_qualified_serial_is_the_serials_item() -> None:
    assert trace.item_key("https://id.gs1.org/01/04012345000016/10/L1/21/7") == trace.item_key(
        "urn:epc:id:sgtin:4012345.000001.7"
    )
