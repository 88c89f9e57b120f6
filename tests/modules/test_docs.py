"""The docs stay true: every message, rejection code and CLI command is documented."""

from __future__ import annotations

from pathlib import Path

from veriledger.interfaces.cli import app
from veriledger.node.node import DEFAULT_MODULES

ROOT = Path(__file__).resolve().parents[2]


def test_every_message_is_in_docs_modules() -> None:
    doc = (ROOT / "docs" / "modules.md").read_text()
    for module in DEFAULT_MODULES:
        assert f"`{module.name}`" in doc
        for message in module.messages:
            assert f"`{message.name}`" in doc, message.name
            assert message.doc, message.name


def test_every_rejection_code_has_a_meaning_and_a_rule_that_documents_it() -> None:
    from veriledger.modules.identity import authorize

    for module in DEFAULT_MODULES:
        assert module.errors, module.name
        assert all(reason.strip() for reason in module.errors.values())
        docs = [m.rule.__doc__ or "" for m in module.messages]
        if module.name == "identity":
            docs.append(authorize.__doc__ or "")
        for message in module.messages:
            assert "Raises" in (message.rule.__doc__ or ""), message.name
        for code in module.errors:
            assert any(f"{module.name}/{code}" in doc for doc in docs), f"{module.name}/{code}"


def test_every_cli_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    names = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
    for name in names:
        assert f"veriledger {name}" in readme, name
