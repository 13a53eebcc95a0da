"""The pre-history schema: what a project creates before its first revision runs.

Some histories start from tables made outside Alembic: MLflow creates
`initial_models.Base.metadata` and only then upgrades. `dbmatrix_alembic_baseline` names that
schema, and every run from base (the first upgrade, up_down_up, data seeding, the
`dbmatrix_alembic` fixture) starts from it."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pytest_dbmatrix.migrations.history import HistoryError
from pytest_dbmatrix.settings import Settings, Sourced

Baseline = Callable[[Connection], object]
"""Creates the pre-history schema on an empty database through the connection given."""
FIX = ("give module:attribute of a MetaData, a declarative Base or a callable taking a "
       "connection, importable once the alembic.ini's prepend_sys_path is applied")


def _import(target: str, source: str) -> object:
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise HistoryError(f"dbmatrix: {source} must be module:attribute, got {target!r}; {FIX}")
    try:
        obj: object = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise HistoryError(f"dbmatrix: {source} names {target!r}, which cannot be loaded "
                           f"({type(exc).__name__}: {exc}); {FIX}") from None
    return obj


def load(setting: Sourced[str | None]) -> Baseline | None:
    """The baseline the setting names, None when unset; HistoryError naming the setting."""
    if setting.value is None:
        return None
    obj = _import(setting.value, setting.source)
    metadata = getattr(obj, "metadata", obj)
    if isinstance(metadata, sa.MetaData):
        return metadata.create_all
    if callable(obj):
        return obj
    raise HistoryError(f"dbmatrix: {setting.source} names {setting.value!r}, a "
                       f"{type(obj).__name__}; {FIX}")


def from_settings(settings: Settings) -> Baseline | None:
    return load(settings.alembic_baseline)
