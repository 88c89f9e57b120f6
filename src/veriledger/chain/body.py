"""Typed message bodies: frozen dataclasses parsed strictly from JSON objects.

A module declares each message body as a dataclass; :func:`parse_body` turns the
``body`` object of a transaction into it, refusing unknown fields, missing fields
and wrong types, and naming the field (``members[2].key``) in the error so an
HTTP client gets a problem+json that points at its mistake. Supported field types:
``str``, ``int``, ``bool``, ``list[T]``, ``dict[str, Any]``, ``Any``, nested body
dataclasses and ``T | None`` with a default. Floats are deliberately absent:
amounts are integers in minor units, and canonical JSON stays on its fast path.

Every body class is compiled once into a tree of small converter functions, because
resolving type hints per message would cost more than the rule itself.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from veriledger.core.errors import BadInputError

MAX_STRING = 4096
MAX_INT = 2**53 - 1
T = TypeVar("T")
Converter = Callable[[Any, str], Any]


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
    converter: Converter = _compile(cls)  # type: ignore[arg-type]
    result: T = converter(data, path)
    return result


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


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


@functools.cache
def _compile(cls: type) -> Converter:
    hints = typing.get_type_hints(cls)
    fields = []
    for spec in dataclasses.fields(cls):
        optional = (
            spec.default is not dataclasses.MISSING
            or spec.default_factory is not dataclasses.MISSING
        )
        fields.append((spec.name, _converter(hints[spec.name]), optional))
    known = frozenset(name for name, _, _ in fields)

    def convert(data: Any, path: str) -> Any:
        if type(data) is not dict:
            raise BodyError(path, "must be a JSON object")
        if not known.issuperset(data):
            raise BodyError(_join(path, sorted(set(data) - known)[0]), "unknown field")
        values = {}
        for name, field_converter, optional in fields:
            if name in data:
                # _join inlined: this loop runs for every field of every transaction.
                values[name] = field_converter(data[name], f"{path}.{name}" if path else name)
            elif not optional:
                raise BodyError(_join(path, name), "missing")
        try:
            return cls(**values)
        except BadInputError:
            raise
        except (TypeError, ValueError) as exc:
            raise BodyError(path, str(exc)) from None

    return convert


def _converter(hint: Any) -> Converter:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = _converter(next(a for a in args if a is not type(None)))
        nullable = type(None) in args
        return lambda value, where: None if value is None and nullable else inner(value, where)
    if hint is str:
        return _string
    if hint is bool:
        return _boolean
    if hint is int:
        return _integer
    if origin in (list, tuple):
        item = _converter(args[0])
        as_tuple = origin is tuple

        def sequence(value: Any, where: str) -> Any:
            if type(value) is not list:
                raise BodyError(where, "must be a list")
            out = [item(x, f"{where}[{i}]") for i, x in enumerate(value)]
            return tuple(out) if as_tuple else out

        return sequence
    if origin is dict or hint is dict:
        return _object
    if hint is Any:
        return lambda value, where: value
    if dataclasses.is_dataclass(hint):
        return _compile(hint)  # type: ignore[arg-type]
    raise TypeError(f"unsupported body field type {hint!r}")


def _string(value: Any, where: str) -> str:
    if type(value) is not str:
        raise BodyError(where, "must be a string")
    if len(value) > MAX_STRING:
        raise BodyError(where, f"is longer than {MAX_STRING} characters")
    return value


def _boolean(value: Any, where: str) -> bool:
    if type(value) is not bool:
        raise BodyError(where, "must be true or false")
    return value


def _integer(value: Any, where: str) -> int:
    if type(value) is not int:
        raise BodyError(where, "must be an integer")
    if not -MAX_INT <= value <= MAX_INT:
        raise BodyError(where, "must be within +-(2^53 - 1)")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise BodyError(where, "must be a JSON object")
    return value
