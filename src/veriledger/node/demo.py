"""The demo consortium: six organisations of two cross-border trade lanes, with history.

Used by ``veriledger demo`` and by the tests (as datasette ships its fixtures): the
same function builds the same consortium, so what the tests check is what a person
running the demo sees.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from pathlib import Path

from veriledger.chain.transactions import Transaction, sign_transaction
from veriledger.core.encoding import b64encode
from veriledger.core.keys import SignerKey
from veriledger.core.nfc_sun import encode_aes_sun
from veriledger.modules.authenticity.codes import make_items
from veriledger.modules.authenticity.module import code_hash
from veriledger.node import datadir
from veriledger.node.datadir import OrgSpec
from veriledger.node.demo_food import FOOD_LOCATIONS, FOOD_PREFIX, FOOD_PRODUCTS, food_batches
from veriledger.node.demo_journeys import PER_CASE, all_items, journey_batches, serial_of
from veriledger.node.node import Node

DEMO_CHAIN = "demo.veriledger.example/ledger"
DEMO_ORGS = [
    OrgSpec(
        "aurora",
        "Aurora Apparel GmbH",
        "brand",
        [
            ("anna", "Anna Keller (brand protection)", ["admin", "operator"]),
            ("ben", "Ben Vogt (production)", ["operator"]),
        ],
        "DE",
    ),
    OrgSpec(
        "kowhai",
        "Kōwhai Valley Foods Ltd",
        "brand",
        [
            ("mere", "Mere Tane (quality)", ["admin", "operator"]),
            ("tom", "Tom Walker (production)", ["operator"]),
        ],
        "NZ",
    ),
    OrgSpec(
        "swiftfreight",
        "SwiftFreight Logistics",
        "logistics",
        [
            ("chen", "Chen Wei (dispatch)", ["admin", "operator"]),
            ("dara", "Dara Singh (line haul)", ["operator"]),
        ],
        "SG",
    ),
    OrgSpec(
        "ningbo-customs",
        "Ningbo Bonded Port Customs Office",
        "customs",
        [
            ("fang", "Fang Li (inspection)", ["admin", "inspector"]),
            ("gao", "Gao Min (clearance)", ["inspector"]),
        ],
        "CN",
    ),
    OrgSpec(
        "citymart",
        "CityMart Retail",
        "retailer",
        [
            ("hana", "Hana Sato (store ops)", ["admin", "operator"]),
            ("ivan", "Ivan Petrov (receiving)", ["operator"]),
        ],
        "CN",
    ),
    OrgSpec(
        "samr",
        "Market Supervision Bureau",
        "regulator",
        [
            ("jun", "Jun Park (recalls)", ["admin", "auditor"]),
        ],
        "CN",
    ),
]
GENESIS_TIME = 1_790_000_000_000


def create_demo(path: Path, block_max_ms: int = 100, block_max_txs: int = 500) -> None:
    """Create the demo consortium's data directory (keys, genesis, API tokens)."""
    datadir.init_data_dir(
        path,
        DEMO_CHAIN,
        DEMO_ORGS,
        GENESIS_TIME,
        block_max_txs=block_max_txs,
        block_max_ms=block_max_ms,
    )


def _doc(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


BRAND_PREFIX = "4012345"
PRODUCTS = {
    "04012345000016": ("Alpine Shell Jacket", "高山冲锋衣", "apparel/outerwear"),
    "04012345000023": ("Merino Base Layer", "美利奴羊毛打底衫", "apparel/base-layer"),
}
LOCATIONS = [
    # member signing, GLN, name, Chinese name, address, country, lat, lon
    (
        "aurora/anna",
        "4012345000108",
        "Aurora factory Stuttgart",
        "Aurora 斯图加特工厂",
        "Industriestr. 5, Stuttgart",
        "DE",
        "48.7758",
        "9.1829",
    ),
    (
        "swiftfreight/chen",
        "8880000000017",
        "SwiftFreight Singapore hub",
        "迅达新加坡枢纽",
        "Pasir Panjang Terminal, Singapore",
        "SG",
        "1.2644",
        "103.8222",
    ),
    (
        "ningbo-customs/fang",
        "6930000000011",
        "Ningbo bonded port warehouse",
        "宁波保税港区仓库",
        "Meishan Bonded Port, Ningbo",
        "CN",
        "29.8683",
        "121.5440",
    ),
    (
        "citymart/hana",
        "6930000000028",
        "CityMart Shanghai Jing'an",
        "城市超市上海静安店",
        "1 Nanjing West Road, Shanghai",
        "CN",
        "31.2304",
        "121.4737",
    ),
    *FOOD_LOCATIONS,
]


def _catalog(tx: Callable[[str, str, dict[str, object]], Transaction]) -> list[Transaction]:
    """The brand claims its GS1 company prefix and defines its products; every party
    defines the locations it operates."""
    batch = [
        tx("aurora/anna", "catalog.claim_prefix", {"prefix": BRAND_PREFIX}),
        tx("kowhai/mere", "catalog.claim_prefix", {"prefix": FOOD_PREFIX}),
    ]
    products = [
        ("aurora/anna", "Aurora Apparel", gtin, name, name_zh, category, "DE")
        for gtin, (name, name_zh, category) in PRODUCTS.items()
    ] + [
        ("kowhai/mere", "Kōwhai Valley", gtin, name, name_zh, category, origin)
        for gtin, (name, name_zh, category, origin) in FOOD_PRODUCTS.items()
    ]
    for member, brand, gtin, name, name_zh, category, origin in products:
        batch.append(
            tx(
                member,
                "catalog.define_product",
                {
                    "gtin": gtin,
                    "name": name,
                    "name_zh": name_zh,
                    "brand": brand,
                    "category": category,
                    "country_of_origin": origin,
                },
            )
        )
    for member, gln, name, name_zh, address, country, lat, lon in LOCATIONS:
        batch.append(
            tx(
                member,
                "catalog.define_location",
                {
                    "gln": gln,
                    "name": name,
                    "name_zh": name_zh,
                    "address": address,
                    "country": country,
                    "lat": lat,
                    "lon": lon,
                },
            )
        )
    return batch


def seed_demo(node: Node, rounds: int = 10) -> int:
    """Submit a realistic history and wait for it; returns the transactions committed.

    Each round is one block: new staff joined and keys rotated, and the documents of
    a shipment attested by the party responsible for each (certificates of origin,
    packing lists, bills of lading, inspection reports, receiving notes).
    """
    committed = 0
    keys: dict[str, SignerKey] = {}
    rotated: SignerKey | None = None

    def key(member: str) -> SignerKey:
        if member not in keys:
            keys[member] = node.member_key(member)
        return keys[member]

    def tx(member: str, kind: str, body: dict[str, object]) -> Transaction:
        return sign_transaction(key(member), node.chain, kind, body)

    for future in node.submit(_catalog(tx)):
        committed += future.result(timeout=30).status == "committed"
    for n in range(rounds):
        shipment = f"SHP-2026-{1000 + n}"
        batch = [
            tx(
                "aurora/ben",
                "notary.attest",
                {
                    "digest": _doc(f"coo {shipment}"),
                    "kind": "certificate-of-origin",
                    "ref": f"COO/{shipment}",
                },
            ),
            tx(
                "aurora/anna",
                "notary.attest",
                {
                    "digest": _doc(f"packing {shipment}"),
                    "kind": "packing-list",
                    "ref": f"PL/{shipment}",
                },
            ),
            tx(
                "swiftfreight/chen",
                "notary.attest",
                {
                    "digest": _doc(f"bol {shipment}"),
                    "kind": "bill-of-lading",
                    "ref": f"BL/{shipment}",
                },
            ),
            tx(
                "ningbo-customs/fang",
                "notary.attest",
                {
                    "digest": _doc(f"inspection {shipment}"),
                    "kind": "inspection-report",
                    "ref": f"INSP/{shipment}",
                },
            ),
            tx(
                "ningbo-customs/gao",
                "notary.attest",
                {
                    "digest": _doc(f"clearance {shipment}"),
                    "kind": "customs-clearance",
                    "ref": f"CLR/{shipment}",
                },
            ),
            tx(
                "citymart/ivan",
                "notary.attest",
                {
                    "digest": _doc(f"receipt {shipment}"),
                    "kind": "goods-received-note",
                    "ref": f"GRN/{shipment}",
                },
            ),
        ]
        if n == 1:
            newcomer = SignerKey.generate("citymart/kai")
            node.keystore.save(newcomer)
            batch.append(
                tx(
                    "citymart/hana",
                    "identity.add_member",
                    {
                        "id": "citymart/kai",
                        "name": "Kai Lin (store 12)",
                        "roles": ["operator"],
                        "key": b64encode(newcomer.public_key),
                    },
                )
            )
        if n == 2:
            fresh = SignerKey.generate("swiftfreight/dara")
            batch.append(
                tx(
                    "swiftfreight/dara",
                    "identity.rotate_key",
                    {"new_key": b64encode(fresh.public_key)},
                )
            )
            rotated = fresh
        if n == 3:
            # The brand attests the same certificate twice: the rule refuses the second
            # in the block, and the refusal is on the ledger with its code and reason.
            batch.append(
                tx(
                    "aurora/ben",
                    "notary.attest",
                    {
                        "digest": _doc(f"coo {shipment}"),
                        "kind": "certificate-of-origin",
                        "ref": f"COO/{shipment}",
                    },
                )
            )
        if n == 4:
            batch.append(
                tx(
                    "samr/jun",
                    "notary.attest",
                    {
                        "digest": _doc("market inspection plan 2026"),
                        "kind": "inspection-plan",
                        "ref": "SAMR/2026/plan",
                    },
                )
            )
        for future in node.submit(batch):
            result = future.result(timeout=30)
            committed += result.status == "committed"
        if n == 2 and rotated is not None:
            node.keystore.replace(rotated)  # the node now signs for dara with the new key
            node.forget_member_key("swiftfreight/dara")
            keys.pop("swiftfreight/dara", None)
    registrations, secret = make_items(JACKET, [serial_of(i) for i in all_items()])
    _write_codes(node.data_dir, secret)
    _provision_nfc(node.data_dir)
    for batch in [*journey_batches(tx, registrations), *food_batches(tx)]:
        for future in node.submit(batch):
            committed += future.result(timeout=30).status == "committed"
    # A copied label: the code of jacket 1001 is checked by its buyer in Shanghai, then
    # again in Guangzhou, where a counterfeit carries the same printed code.
    code = secret[CLONED_SERIAL]
    for place, country, lat, lon in (
        ("Shanghai", "CN", "31.2304", "121.4737"),
        ("Guangzhou", "CN", "23.1291", "113.2644"),
    ):
        scan: dict[str, object] = {
            "gtin": JACKET,
            "serial": CLONED_SERIAL,
            "scanner": f"demo-{place.lower()}",
            "code_hash": code_hash(
                base64.b64decode(
                    next(r["salt"] for r in registrations if r["serial"] == CLONED_SERIAL)
                ),
                JACKET,
                CLONED_SERIAL,
                code,
            ),
            "country": country,
            "lat": lat,
            "lon": lon,
            "place": place,
        }
        for future in node.submit([tx("aurora/anna", "authenticity.scan", scan)]):
            committed += future.result(timeout=30).status == "committed"
    return committed


JACKET = "04012345000016"
CLONED_SERIAL = "1001"
CODES_FILE = "item-codes.csv"
NFC_TAPS_FILE = "nfc-taps.txt"
NFC_SERIALS = [str(1000 + n) for n in range(PER_CASE)]  # the first case carries NTAG 424 tags


def tag_uid(serial: str) -> bytes:
    """The 7-byte UID of the demo tag on a jacket (NXP UIDs start with 0x04)."""
    return bytes.fromhex("04") + hashlib.sha256(f"uid {serial}".encode()).digest()[:6]


def _provision_nfc(path: Path) -> None:
    """Tag keys for the jackets' NTAG 424 DNA tags, and tap URLs to try: each URL is one
    genuine read, so the first opening verifies and a second one is a replay."""
    keys = datadir.NfcTagKeys(
        secrets.token_bytes(16),
        secrets.token_bytes(16),
        {serial: tag_uid(serial) for serial in NFC_SERIALS},
    )
    datadir.save_nfc_keys(path, JACKET, keys)
    lines = []
    for counter in (1, 2, 3):
        picc, mac = encode_aes_sun(
            tag_uid(NFC_SERIALS[0]),
            counter,
            file_read_key=keys.file_read_key,
            meta_read_key=keys.meta_read_key,
        )
        lines.append(f"/01/{JACKET}/21/{NFC_SERIALS[0]}?picc_data={picc}&cmac={mac}")
    datadir.write_private(path / NFC_TAPS_FILE, ("\n".join(lines) + "\n").encode())


def _write_codes(path: Path, secret: dict[str, str]) -> None:
    """The printed codes, for people trying the demo (a brand keeps these offline)."""
    lines = ["gtin,serial,code,url"] + [
        f"{JACKET},{serial},{code},/01/{JACKET}/21/{serial}" for serial, code in secret.items()
    ]
    datadir.write_private(path / CODES_FILE, ("\n".join(lines) + "\n").encode())
    datadir.write_private(path / datadir.GATEWAY, b'{"member": "aurora/anna"}\n')
