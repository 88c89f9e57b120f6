"""Typed message bodies: frozen dataclasses parsed strictly from JSON objects.

A module declares each message body as a dataclass; :func:`parse_body` turns the
``body`` object of a transaction into it, refusing unknown fields, missing fields
and wrong types, and naming the field (``members[2].key``) in the error so an
HTTP client gets a problem+json that points at its mistake. Supported field types:
``str``, ``int``, ``bool``, ``list[T]``, ``dict[str, Any]``, nested body dataclasses
and ``T | None`` with a default. Floats are deliberately absent: amounts are
integers in minor units, and canonical JSON stays on its fast path.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

from veriledger.core.errors import BadInputError

MAX_STRING = 4096
T = TypeVar("T")


class BodyError(BadInputError):
    """A message body field is missing, unknown, or of the wrong type."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"body.{field}: {reason}" if field else f"body: {reason}")
        self.field = f"body.{field}" if field else "body"
        self.reason = reason


def parse_body(cls: type[T], data: Any, path: str = "") -> T:
    """Build the dataclass ``cls`` from ``data``.

    Raises:
        BodyError: naming the offending field.
    """
    if not isinstance(data, dict):
        raise BodyError(path, "must be a JSON object")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise BodyError(_join(path, unknown[0]), "unknown field")
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        where = _join(path, name)
        if name not in data:
            has_default = (
                spec.default is not dataclasses.MISSING
                or spec.default_factory is not dataclasses.MISSING
            )
            if not has_default:
                raise BodyError(where, "missing")
            continue
        values[name] = _convert(hints[name], data[name], where)
    try:
        return cls(**values)
    except BadInputError:
        raise
    except (TypeError, ValueError) as exc:
        raise BodyError(path, str(exc)) from None


def body_to_json(value: Any) -> Any:
    """The JSON form of a body dataclass (the inverse of :func:`parse_body`)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: body_to_json(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, list | tuple):
        return [body_to_json(v) for v in value]
    return value


def _join(path: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, where)
    if hint is str:
        if not isinstance(value, str):
            raise BodyError(where, "must be a string")
        if len(value) > MAX_STRING:
            raise BodyError(where, f"is longer than {MAX_STRING} characters")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise BodyError(where, "must be true or false")
        return value
    if hint is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise BodyError(where, "must be an integer")
        if abs(value) > 2**53 - 1:
            raise BodyError(where, "must be within +-(2^53 - 1)")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise BodyError(where, "must be a list")
        converted = [_convert(args[0], item, _join(where, i)) for i, item in enumerate(value)]
        return tuple(converted) if origin is tuple else converted
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise BodyError(where, "must be a JSON object")
        return value
    if hint is Any:
        return value
    if dataclasses.is_dataclass(hint):
        return parse_body(hint, value, where)  # type: ignore[arg-type]
    raise BodyError(where, f"has an unsupported declared type {hint!r}")
