"""CBV 2.0 code lists (GS1 Core Business Vocabulary), as the rules need them.

Generated from the CBV 2.0 vocabulary (shared/data/epcis/vocabulary/cbv_vocabulary.json,
itself from the GS1 JSON-LD context). A value may appear bare (``shipping``), as its web URI
(``https://ref.gs1.org/cbv/BizStep-shipping``) or as its legacy URN
(``urn:epcglobal:cbv:bizstep:shipping``); :func:`bare` maps all three to the bare word.
"""

from __future__ import annotations

BIZ_STEPS = frozenset(
    {
        "accepting",
        "arriving",
        "assembling",
        "collecting",
        "commissioning",
        "consigning",
        "creating_class_instance",
        "cycle_counting",
        "decommissioning",
        "departing",
        "destroying",
        "disassembling",
        "dispensing",
        "encoding",
        "entering_exiting",
        "holding",
        "inspecting",
        "installing",
        "killing",
        "loading",
        "other",
        "packing",
        "picking",
        "receiving",
        "removing",
        "repackaging",
        "repairing",
        "replacing",
        "reserving",
        "retail_selling",
        "shipping",
        "staging_outbound",
        "stock_taking",
        "stocking",
        "storing",
        "transporting",
        "unloading",
        "unpacking",
        "void_shipping",
        "sensor_reporting",
        "sampling",
    }
)
BIZ_STEPS_PREFIXES = ("https://ref.gs1.org/cbv/BizStep-", "urn:epcglobal:cbv:bizstep:")

DISPOSITIONS = frozenset(
    {
        "active",
        "container_closed",
        "damaged",
        "destroyed",
        "dispensed",
        "disposed",
        "encoded",
        "expired",
        "in_progress",
        "in_transit",
        "inactive",
        "no_pedigree_match",
        "non_sellable_other",
        "partially_dispensed",
        "recalled",
        "reserved",
        "retail_sold",
        "returned",
        "sellable_accessible",
        "sellable_not_accessible",
        "stolen",
        "unknown",
        "available",
        "completeness_verified",
        "completeness_inferred",
        "conformant",
        "container_open",
        "mismatch_instance",
        "mismatch_class",
        "mismatch_quantity",
        "needs_replacement",
        "non_conformant",
        "unavailable",
    }
)
DISPOSITIONS_PREFIXES = ("https://ref.gs1.org/cbv/Disp-", "urn:epcglobal:cbv:disp:")

BIZ_TRANSACTION_TYPES = frozenset(
    {
        "bol",
        "cert",
        "desadv",
        "inv",
        "pedigree",
        "po",
        "poc",
        "prodorder",
        "recadv",
        "rma",
        "testprd",
        "testres",
        "upevt",
    }
)
BIZ_TRANSACTION_TYPES_PREFIXES = ("https://ref.gs1.org/cbv/BTT-", "urn:epcglobal:cbv:btt:")

SOURCE_DEST_TYPES = frozenset(
    {
        "owning_party",
        "possessing_party",
        "location",
    }
)
SOURCE_DEST_TYPES_PREFIXES = ("https://ref.gs1.org/cbv/SDT-", "urn:epcglobal:cbv:sdt:")


def bare(value: str, prefixes: tuple[str, ...]) -> str:
    """The bare CBV word for a bare, URI or URN spelling; other URIs are returned as given."""
    for prefix in prefixes:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def _word(value: object, words: frozenset[str], prefixes: tuple[str, ...]) -> object:
    if isinstance(value, str):
        word = bare(value, prefixes)
        if word in words:
            return word
    return value


def json_form(event: dict[str, object]) -> dict[str, object]:
    """An event with CBV URN values as the bare words EPCIS 2.0 JSON uses.

    EPCIS XML writes standard vocabulary as URNs (``urn:epcglobal:cbv:bizstep:
    shipping``); the JSON binding and its schema use the bare word (``shipping``).
    Values outside the CBV are left alone; the event hash is the same either way.
    """
    out = dict(event)
    out["bizStep"] = _word(out.get("bizStep"), BIZ_STEPS, BIZ_STEPS_PREFIXES)
    out["disposition"] = _word(out.get("disposition"), DISPOSITIONS, DISPOSITIONS_PREFIXES)
    for field, words, prefixes in (
        ("bizTransactionList", BIZ_TRANSACTION_TYPES, BIZ_TRANSACTION_TYPES_PREFIXES),
        ("sourceList", SOURCE_DEST_TYPES, SOURCE_DEST_TYPES_PREFIXES),
        ("destinationList", SOURCE_DEST_TYPES, SOURCE_DEST_TYPES_PREFIXES),
    ):
        items = out.get(field)
        if isinstance(items, list):
            out[field] = [
                {**item, "type": _word(item.get("type"), words, prefixes)}
                if isinstance(item, dict) and "type" in item
                else item
                for item in items
            ]
    persistent = out.get("persistentDisposition")
    if isinstance(persistent, dict):
        out["persistentDisposition"] = {
            k: [_word(v, DISPOSITIONS, DISPOSITIONS_PREFIXES) for v in values]
            if isinstance(values, list)
            else values
            for k, values in persistent.items()
        }
    return {k: v for k, v in out.items() if v is not None or k in event}
