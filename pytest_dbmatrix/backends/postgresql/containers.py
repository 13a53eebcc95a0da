"""PostgreSQL in the official image: the password and database by variable, fsync off."""

from __future__ import annotations

from pytest_dbmatrix.backends.recipes import DATABASE, ContainerRecipe


def environment(password: str, port: int, host: bool) -> dict[str, str]:
    return {"POSTGRES_PASSWORD": password, "POSTGRES_DB": DATABASE} | (
        {"PGPORT": str(port)} if host else {})


def command(port: int, host: bool) -> list[str]:
    settings = {"listen_addresses": "127.0.0.1" if host else "*", "fsync": "off",
                "synchronous_commit": "off", "full_page_writes": "off"}
    return ["postgres", "-p", str(port), *[a for k, v in settings.items()
                                           for a in ("-c", f"{k}={v}")]]


RECIPE = ContainerRecipe(5432, "postgres", 60.0, environment, command, DATABASE)
