"""Shared test set-up: the live servers of this machine, given to pytester runs through env."""

from __future__ import annotations

import os

import pytest

LIVE_URLS = {
    "postgresql": os.environ.get("DBMATRIX_TEST_POSTGRESQL_URL",
                                 "postgresql+psycopg2://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("DBMATRIX_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
    "mariadb": os.environ.get("DBMATRIX_TEST_MARIADB_URL",
                              "mariadb+pymysql://root@127.0.0.1:3306/test"),
}
LIVE = ",".join(["sqlite", *LIVE_URLS])


@pytest.fixture
def live_urls(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point DBMATRIX_<NAME>_URL at this machine's servers for pytester runs."""
    for name, url in LIVE_URLS.items():
        monkeypatch.setenv(f"DBMATRIX_{name.upper()}_URL", url)
    return dict(LIVE_URLS)


@pytest.fixture(autouse=True)
def _clean_dbmatrix_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytester runs must not inherit the outer run's backend selection."""
    for key in list(os.environ):
        if key.startswith("DBMATRIX_") and not key.startswith("DBMATRIX_TEST_"):
            monkeypatch.delenv(key)
