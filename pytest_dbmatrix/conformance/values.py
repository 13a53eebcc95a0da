"""Values per column type: edge values that must come back unchanged, values every backend must
reject, and plain values to fill the rest of a row."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

UTC = dt.timezone.utc
PLUS_0530 = dt.timezone(dt.timedelta(hours=5, minutes=30))
TEXT_LENGTH = 1000
UNBOUNDED_STRING = 255


class CannotGenerate(Exception):
    """No value of this column's type can be made up."""


@dataclass(frozen=True)
class Probe:
    """An edge value; `category` names the finding when it comes back different."""

    label: str
    value: Any
    category: str = "value-changed"


@dataclass(frozen=True)
class Reject:
    """A value outside the declared type: accepted means a finding of `category`."""

    label: str
    value: Any
    bind_type: sa.types.TypeEngine[Any]
    category: str


def base_type(column: sa.Column[Any]) -> sa.types.TypeEngine[Any]:
    kind = column.type
    while isinstance(kind, sa.TypeDecorator):
        kind = kind.impl_instance
    return kind


def probes(column: sa.Column[Any]) -> list[Probe]:
    """The edge values of a column's type, distinct even under case/space-insensitive rules."""
    kind = base_type(column)
    found = _probes(kind)
    if isinstance(kind, sa.String) and not isinstance(kind, sa.Enum):
        found = _distinct_strings(found)
    return found


def _probes(kind: sa.types.TypeEngine[Any]) -> list[Probe]:
    if isinstance(kind, sa.Enum):
        members = _members(kind)
        return [Probe(f"member {m!r}", m) for m in dict.fromkeys((members[0], members[-1]))]
    if isinstance(kind, sa.Boolean):
        return [Probe("true", True), Probe("false", False)]
    if isinstance(kind, sa.Integer):
        bits = 16 if isinstance(kind, sa.SmallInteger) else 64 if isinstance(
            kind, sa.BigInteger) else 32
        top = 2 ** (bits - 1)
        return [Probe("max", top - 1), Probe("min", -top), Probe("zero", 0)]
    if isinstance(kind, sa.Float):
        return [Probe("double", 1.2345678901234567, "float-precision"),
                Probe("tenth", 0.1, "float-precision")]
    if isinstance(kind, sa.Numeric):
        return _decimal_probes(kind)
    if isinstance(kind, sa.DateTime):
        return _datetime_probes(kind)
    if isinstance(kind, sa.Date):
        return [Probe("leap day", dt.date(2024, 2, 29)), Probe("max", dt.date(9999, 12, 31))]
    if isinstance(kind, sa.Time):
        return [Probe("microseconds", dt.time(23, 59, 59, 999999), "datetime-precision"),
                Probe("midnight", dt.time(0, 0))]
    if isinstance(kind, sa.String):
        return _string_probes(kind)
    if isinstance(kind, sa.LargeBinary):
        length = kind.length or 256
        return [Probe("all bytes", bytes(range(256))[:length]), Probe("empty", b"")]
    if isinstance(kind, sa.JSON):
        return [Probe("object", {"name": "Zoë 😀", "list": [1, 2.5, None, True],
                                 "nested": {"k": "v"}}),
                Probe("array", [1, "two", None])]
    if isinstance(kind, sa.Uuid):
        values = [uuid.UUID("0b7c3f5e-4e1a-4c9b-9d2f-8a6b5c4d3e2f"), uuid.UUID(int=2**128 - 1)]
        return [Probe(f"uuid {i}", v if kind.as_uuid else str(v)) for i, v in enumerate(values)]
    if isinstance(kind, postgresql.ARRAY):
        items = [p.value for p in _probes(kind.item_type)][:2]
        return [Probe("array", items), Probe("empty array", [])]
    return []


def _members(kind: sa.Enum) -> list[Any]:
    if kind.enum_class is not None:
        return list(kind.enum_class)
    return list(kind.enums)


def _decimal_probes(kind: sa.Numeric[Any]) -> list[Probe]:
    if kind.precision is None:
        value = Decimal("12345.6789")
        found = [Probe("fraction", value, "decimal-precision")]
    else:
        scale = kind.scale or 0
        whole = "9" * (kind.precision - scale) or "0"
        top = Decimal(whole + ("." + "9" * scale if scale else ""))
        found = [Probe("max", top, "decimal-precision"), Probe("min", -top, "decimal-precision")]
        if scale:
            found.append(Probe("smallest", Decimal("0." + "0" * (scale - 1) + "1"),
                               "decimal-precision"))
    if not kind.asdecimal:
        found = [Probe(p.label, float(p.value), p.category) for p in found]
    return found


def _datetime_probes(kind: sa.DateTime) -> list[Probe]:
    if kind.timezone:
        return [Probe("aware +05:30", dt.datetime(2024, 2, 29, 23, 59, 58, tzinfo=PLUS_0530),
                      "datetime-tz-loss"),
                Probe("aware microseconds",
                      dt.datetime(2024, 12, 31, 12, 0, 0, 123456, tzinfo=UTC),
                      "datetime-precision")]
    return [Probe("microseconds", dt.datetime(2024, 2, 29, 23, 59, 58, 123456),
                  "datetime-precision"),
            Probe("whole second", dt.datetime(1999, 12, 31, 0, 0, 0))]


def _length(kind: sa.String) -> int:
    if kind.length:
        return int(kind.length)
    return TEXT_LENGTH if isinstance(kind, sa.Text) else UNBOUNDED_STRING


def _string_probes(kind: sa.String) -> list[Probe]:
    length = _length(kind)
    return [
        Probe("max length", ("abcdefghij" * (length // 10 + 1))[:length]),
        Probe("non-ASCII", ("Zoë Ωé漢ß" * (length // 8 + 1))[:length], "unicode-storage"),
        Probe("emoji", "😀" * min(length, 50), "unicode-storage"),
        Probe("trailing spaces", ("ab" + " " * length)[: min(length, 4)], "char-padding"),
        Probe("mixed case", "MiXeD CaSe"[:length]),
        Probe("empty", ""),
    ]


def _distinct_strings(found: list[Probe]) -> list[Probe]:
    """Drop probes equal to an earlier one once case and trailing spaces are ignored."""
    seen: set[str] = set()
    kept = []
    for probe in found:
        norm = str(probe.value).casefold().rstrip()
        if norm not in seen:
            seen.add(norm)
            kept.append(probe)
    return kept


def rejects(column: sa.Column[Any]) -> list[Reject]:
    """Values outside the declared type that every backend should refuse."""
    kind = base_type(column)
    if isinstance(kind, sa.Enum):
        longest = max((len(str(e)) for e in kind.enums), default=1)
        return [Reject("not a member", "~" * longest, sa.String(), "enum-unenforced")]
    if isinstance(kind, sa.Boolean):
        return [Reject("integer 5", 5, sa.Integer(), "boolean-unenforced")]
    if isinstance(kind, sa.String) and kind.length:
        return [Reject(f"{kind.length + 1} characters", "x" * (kind.length + 1), sa.String(),
                       "length-unenforced")]
    return []


def base_value(column: sa.Column[Any], n: int) -> Any:
    """A plain valid value, different for every `n` (unique columns stay unique)."""
    kind = base_type(column)
    if isinstance(kind, sa.Enum):
        members = _members(kind)
        return members[n % len(members)]
    if isinstance(kind, sa.Boolean):
        return n % 2 == 0
    if isinstance(kind, sa.Integer):
        return 1000 + n
    if isinstance(kind, sa.Float):
        return n + 0.5
    if isinstance(kind, sa.Numeric):
        room = 10 ** max((kind.precision or 10) - (kind.scale or 0) - 1, 0)
        value = Decimal(n % room)
        return value if kind.asdecimal else float(value)
    if isinstance(kind, sa.DateTime):
        moment = dt.datetime(2000, 1, 1) + dt.timedelta(minutes=n)
        return moment.replace(tzinfo=UTC) if kind.timezone else moment
    if isinstance(kind, sa.Date):
        return dt.date(2000, 1, 1) + dt.timedelta(days=n)
    if isinstance(kind, sa.Time):
        return dt.time(n % 24, n % 60)
    if isinstance(kind, sa.Interval):
        return dt.timedelta(seconds=n)
    if isinstance(kind, sa.String):
        return _text(n, _length(kind))
    if isinstance(kind, sa.LargeBinary):
        return f"b{n}".encode()[: kind.length or None]
    if isinstance(kind, sa.JSON):
        return {"n": n}
    if isinstance(kind, sa.Uuid):
        token = uuid.UUID(int=n + 1)
        return token if kind.as_uuid else str(token)
    if isinstance(kind, postgresql.ARRAY):
        return [base_value(sa.Column("item", kind.item_type), n)]
    if isinstance(kind, sa.PickleType):
        return {"n": n}
    raise CannotGenerate(f"no value can be generated for {column.table.name}.{column.name} "
                         f"of type {column.type!r}")


def _text(n: int, length: int) -> str:
    text = f"Val{n}"
    if len(text) <= length:
        return text
    letters = ""
    while n or not letters:
        n, digit = divmod(n, 52)
        letters += "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[digit]
    return letters[:length]


def same(before: Any, after: Any) -> bool:
    """Whether a value came back as written (numbers by value, datetimes with their offset)."""
    if isinstance(before, Decimal | float) and isinstance(after, Decimal | float):
        return Decimal(str(before)) == Decimal(str(after))
    if isinstance(before, enum.Enum) and isinstance(after, str):
        return bool(before.name == after or before.value == after)
    if (isinstance(before, dt.datetime) and isinstance(after, dt.datetime)
            and (before.tzinfo is None) != (after.tzinfo is None)):
        return False
    if type(before) is bool or type(after) is bool:
        return type(before) is type(after) and before == after
    return bool(before == after)


def changed_category(probe: Probe, before: Any, after: Any) -> str:
    """The category of a value that came back different."""
    if isinstance(before, dt.datetime) and isinstance(after, dt.datetime):
        if before.tzinfo is not None and after.tzinfo is None:
            return "datetime-tz-loss"
        if before.replace(microsecond=0, tzinfo=None) == after.replace(microsecond=0,
                                                                       tzinfo=None):
            return "datetime-precision"
    if isinstance(before, str) and isinstance(after, str) and before.rstrip() == after.rstrip():
        return "char-padding"
    return probe.category


def show(value: Any) -> str:
    """The exact value, as Python would write it (truncated when very long)."""
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + f"... ({len(text)} characters)"
