"""MariaDB in the official image: MySQL's recipe with MARIADB_ variables; it starts sooner."""

from __future__ import annotations

from dataclasses import replace

from pytest_dbmatrix.backends.mysql.containers import RECIPE as MYSQL
from pytest_dbmatrix.backends.mysql.containers import environment

RECIPE = replace(MYSQL, timeout=90.0, environment=environment("MARIADB"))
