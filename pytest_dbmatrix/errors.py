"""Turn an exception into one comparable line: class, DBAPI code, first message line."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import exc as sa_exc

from pytest_dbmatrix.redact import scrub

_NOISE = re.compile(r"\(Background on this error at:[^)]*\)|\[SQL:.*|\[parameters:.*", re.S)
MAX_MESSAGE = 400
MAX_SQL = 2000


@dataclass(frozen=True)
class NormalisedError:
    exception: str
    message: str
    dbapi_error: str | None = None
    code: str | None = None
    sql: str | None = None

    @property
    def line(self) -> str:
        code = f"[{self.code}]" if self.code else ""
        return f"{self.exception}{code}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"line": self.line}


def _chain(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def dbapi_code(orig: BaseException) -> str | None:
    """The driver's error code: errno for MySQL drivers, SQLSTATE for psycopg, name for sqlite3."""
    args: tuple[object, ...] = tuple(getattr(orig, "args", ()))
    if len(args) > 1 and isinstance(args[0], int):
        return str(args[0])
    for attr in ("pgcode", "sqlstate", "sqlite_errorname"):
        value = getattr(orig, attr, None)
        if value:
            return str(value)
    if len(args) > 1 and isinstance(args[0], str) and args[0].isalnum():
        return args[0]
    return None


def _message(text: str) -> str:
    text = _NOISE.sub("", text).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    first = re.sub(r"\s+", " ", first)
    return cut(first, MAX_MESSAGE)


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, cut between words (inside the first only when it alone is
    longer than that); a cut text ends with ' ...'."""
    if len(text) <= limit:
        return text
    head = text[:limit - 4]
    if " " in head:
        head = head.rsplit(" ", 1)[0]
    return head + " ..."


def _orig_message(orig: BaseException) -> str:
    args: tuple[object, ...] = tuple(getattr(orig, "args", ()))
    if len(args) >= 2 and isinstance(args[0], int) and isinstance(args[1], str):
        return args[1]
    return str(orig)


def _statement(exc: BaseException, secrets: Iterable[str]) -> str | None:
    """The SQL of a failed statement (without parameters), shortened and scrubbed."""
    statement = getattr(exc, "statement", None)
    if not isinstance(statement, str) or not statement.strip():
        return None
    return scrub(statement.strip()[:MAX_SQL], secrets)


def normalise(exc: BaseException, secrets: Iterable[str] = ()) -> NormalisedError:
    """The most telling exception in the chain, as a `NormalisedError`."""
    chosen = exc
    if not isinstance(exc, sa_exc.SQLAlchemyError):
        chosen = next((e for e in _chain(exc) if isinstance(e, sa_exc.SQLAlchemyError)), exc)
        if type(exc).__name__ in ("AssertionError", "Failed"):
            chosen = exc
    name = type(chosen).__name__
    orig = getattr(chosen, "orig", None)
    if isinstance(orig, BaseException):
        driver_error = f"{type(orig).__module__}.{type(orig).__name__}"
        message = _message(_orig_message(orig))
        return NormalisedError(name, scrub(message, secrets), driver_error, dbapi_code(orig),
                               _statement(chosen, secrets))
    return NormalisedError(name, scrub(_message(str(chosen)), secrets))
