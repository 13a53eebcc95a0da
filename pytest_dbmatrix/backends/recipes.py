"""The shape of a family's server recipes: data the container and local providers run.

A family's `containers.py` and `local.py` hold one `RECIPE` each; the providers know nothing
about any family beyond what a recipe says."""

from __future__ import annotations

import os
import pwd
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

DATABASE = "test"
"""The database a started server serves tests from."""
User = pwd.struct_passwd | None
"""Who runs a local server: None for this process's user."""


@dataclass(frozen=True)
class ContainerRecipe:
    """How a family's official image is configured, reached and awaited."""

    port: int
    user: str
    timeout: float
    environment: Callable[[str, int, bool], dict[str, str]]
    """(password, port, host network) -> the container's variables."""
    command: Callable[[int, bool], list[str] | None]
    """(port, host network) -> the container's arguments (None: the image's own)."""
    admin_database: str
    password: Callable[[], str] = lambda: secrets.token_hex(12)


@dataclass(frozen=True)
class Binaries:
    """Server and set-up programs found for a family, and what the header says about them."""

    server: str
    setup: tuple[str, ...]
    product: str
    label: str


@dataclass(frozen=True)
class LocalRecipe:
    """How one family's throwaway server is found, initialised, started and reached."""

    users: tuple[str, ...]
    timeout: float
    stop_signal: int
    find: Callable[[str], Binaries]
    initialise: Callable[[Binaries, Path, str, User], list[str]]
    command: Callable[[Binaries, Path, int], list[str]]
    admin_url: Callable[[str, int, str], URL]
    socket: Callable[[Path], Path] | None = None
    """data directory -> the server's Unix socket, whose path length is bounded."""


def secret_file(path: Path, text: str, user: User) -> Path:
    """A file only the server's user reads (the password); removed with the directory."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)
    return path
