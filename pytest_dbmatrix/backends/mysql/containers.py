"""MySQL in the official image (MariaDB's differs only in its variables' prefix)."""

from __future__ import annotations

from collections.abc import Callable

from pytest_dbmatrix.backends.recipes import DATABASE, ContainerRecipe


def environment(prefix: str) -> Callable[[str, int, bool], dict[str, str]]:
    def variables(password: str, port: int, host: bool) -> dict[str, str]:
        return {f"{prefix}_ROOT_PASSWORD": password, f"{prefix}_DATABASE": DATABASE}
    return variables


def command(port: int, host: bool) -> list[str]:
    bind = ["--bind-address=127.0.0.1"] if host else []
    return [f"--port={port}", *bind, "--innodb-flush-log-at-trx-commit=0", "--skip-log-bin",
            "--loose-mysqlx=OFF"]


RECIPE = ContainerRecipe(3306, "root", 120.0, environment("MYSQL"), command, DATABASE)
