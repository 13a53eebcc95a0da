"""Backend predicates such as "postgresql", "mysql<8.0.16" or "mariadb>=10.5"."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

_PREDICATE = re.compile(
    r"^\s*(?P<name>[a-z][a-z0-9_]*)\s*(?:(?P<op><=|>=|==|!=|<|>)\s*(?P<version>\d+(?:\.\d+)*))?\s*$"
)
_OPS: dict[str, Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}


@dataclass(frozen=True)
class Identity:
    """What a predicate is matched against: names, and the server once it is known."""

    name: str
    kind: str
    dialect: str | None = None
    product: str | None = None
    version: tuple[int, ...] | None = None

    @property
    def live(self) -> bool:
        return self.product is not None

    @property
    def names(self) -> frozenset[str]:
        return frozenset(n for n in (self.name, self.kind, self.dialect, self.product) if n)


@dataclass(frozen=True)
class Predicate:
    """A backend name with an optional version comparison."""

    text: str
    name: str
    op: str | None = None
    version: tuple[int, ...] | None = None

    def matches(self, target: Identity) -> bool | None:
        """True or False, or None while the answer needs the server (version, product)."""
        if not target.live:
            if self.name in target.names:
                return None if self.op else True
            return None if _may_be_served_by(target.kind, self.name) else False
        if self.name not in target.names:
            return False
        if self.op is None or self.version is None:
            return True
        have = target.version or ()
        width = max(len(have), len(self.version))
        pad = (0,) * width
        return _OPS[self.op]((have + pad)[:width], (self.version + pad)[:width])


def _may_be_served_by(kind: str, name: str) -> bool:
    """Whether a backend of family `kind` may turn out to run on a `name` server (a mysql
    backend on MariaDB): only the live server can tell."""
    from pytest_dbmatrix.backends import FAMILIES

    family = FAMILIES.get(kind)
    return family is not None and family.reaches(name)


def parse_predicate(text: object) -> Predicate:
    """Parse "name", "name<1.2" ...; ValueError with the accepted form otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a backend name (a string such as 'mysql<8.0.16')")
    m = _PREDICATE.match(text.lower())
    if not m:
        raise ValueError(
            f"{text!r} is not a backend predicate: use a name optionally followed by "
            f"<, <=, >, >=, == or != and a version, e.g. 'mysql<8.0.16'"
        )
    version = tuple(int(p) for p in m["version"].split(".")) if m["version"] else None
    return Predicate(text, m["name"], m["op"], version)
