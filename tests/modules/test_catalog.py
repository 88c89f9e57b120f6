"""The catalog module: prefix claims, products by GTIN, locations by GLN."""

from __future__ import annotations

from tests.modules.harness import Chain, tx
from veriledger.modules import catalog

ORGS = [
    ("brand", "brand", [("brand/ops", ["operator"])]),
    ("rival", "manufacturer", [("rival/ops", ["operator"])]),
    ("carrier", "logistics", [("carrier/ops", ["operator"])]),
]


def chain() -> Chain:
    return Chain([catalog.MODULE], ORGS)


def test_prefix_claims() -> None:
    c = chain()
    assert c.run(tx("brand/ops", "catalog.claim_prefix", {"prefix": "0614141"}))[0][0]
    results = c.run(
        tx("rival/ops", "catalog.claim_prefix", {"prefix": "0614141"}),
        tx("rival/ops", "catalog.claim_prefix", {"prefix": "06141412"}),
        tx("rival/ops", "catalog.claim_prefix", {"prefix": "061414"}),
        tx("carrier/ops", "catalog.claim_prefix", {"prefix": "0999999"}),
        tx("rival/ops", "catalog.claim_prefix", {"prefix": "12ab"}),
    )
    assert [r[1] for r in results] == [
        "catalog/1",
        "catalog/2",
        "catalog/2",
        "chain/5",
        "catalog/3",
    ]


def test_products_belong_to_the_prefix_owner() -> None:
    c = chain()
    c.run(tx("brand/ops", "catalog.claim_prefix", {"prefix": "0614141"}))
    ok = tx("brand/ops", "catalog.define_product", {"gtin": "00614141107346", "name": "Jacket"})
    assert c.run(ok)[0][0]
    assert c.state.get("catalog/product/00614141107346")["org"] == "brand"
    results = c.run(
        tx("rival/ops", "catalog.define_product", {"gtin": "00614141107346", "name": "Fake"}),
        tx("brand/ops", "catalog.define_product", {"gtin": "00614141107347", "name": "Bad"}),
        tx("brand/ops", "catalog.define_product", {"gtin": "09506000134352", "name": "Unclaimed"}),
    )
    assert [r[1] for r in results] == ["catalog/4", "catalog/3", "catalog/4"]
    assert "check digit" in (results[1][2] or "")


def test_gtin_8_12_13_are_normalised() -> None:
    c = chain()
    c.run(tx("brand/ops", "catalog.claim_prefix", {"prefix": "0614141"}))
    assert c.run(tx("brand/ops", "catalog.define_product", {"gtin": "614141107346", "name": "J"}))[
        0
    ][0]
    assert c.state.get("catalog/product/00614141107346") is not None


def test_locations() -> None:
    c = chain()
    loc = {
        "gln": "0614141000005",
        "name": "Ningbo bonded warehouse",
        "country": "CN",
        "lat": "29.8683",
        "lon": "121.5440",
    }
    assert c.run(tx("carrier/ops", "catalog.define_location", loc))[0][0]
    results = c.run(
        tx("brand/ops", "catalog.define_location", loc),
        tx("carrier/ops", "catalog.define_location", {**loc, "lat": "95.0"}),
        tx("carrier/ops", "catalog.define_location", {**loc, "gln": "0614141000006"}),
    )
    assert [r[1] for r in results] == ["catalog/5", "catalog/6", "catalog/3"]
