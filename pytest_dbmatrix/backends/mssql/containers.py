"""SQL Server in Microsoft's image: no database until one is made, a password policy, and a
driver to choose (pyodbc with Microsoft's ODBC driver or FreeTDS, else pymssql)."""

from __future__ import annotations

import importlib.util
import secrets

from pytest_dbmatrix.backends.base import BackendUnavailable
from pytest_dbmatrix.backends.mssql import ODBC_DRIVERS
from pytest_dbmatrix.backends.recipes import ContainerRecipe


def environment(password: str, port: int, host: bool) -> dict[str, str]:
    return {"ACCEPT_EULA": "Y", "MSSQL_SA_PASSWORD": password, "MSSQL_PID": "Developer"} | (
        {"MSSQL_TCP_PORT": str(port), "MSSQL_IP_ADDRESS": "127.0.0.1"} if host else {})


def password() -> str:
    return f"Dbm-{secrets.token_hex(10)}-Z9"  # upper, lower, digit and symbol: SA policy


def mssql_driver(name: str, odbc_drivers: list[str] | None = None,
                 pymssql: bool | None = None) -> tuple[str, dict[str, str]]:
    """pyodbc with Microsoft's ODBC driver, else with FreeTDS, else pymssql."""
    if odbc_drivers is None and importlib.util.find_spec("pyodbc") is not None:
        import pyodbc

        odbc_drivers = list(pyodbc.drivers())
    for driver in ODBC_DRIVERS:
        if driver in (odbc_drivers or []):
            query = {"driver": driver, "TrustServerCertificate": "yes"}
            return "mssql+pyodbc", query | ({"TDS_Version": "7.4"} if driver == "FreeTDS" else {})
    if pymssql if pymssql is not None else importlib.util.find_spec("pymssql") is not None:
        return "mssql+pymssql", {}
    raise BackendUnavailable(
        name, "no SQL Server driver: pip install pyodbc and install Microsoft's 'ODBC Driver 18 "
        "for SQL Server' (or FreeTDS: apt-get install tdsodbc), or pip install pymssql")


RECIPE = ContainerRecipe(1433, "sa", 180.0, environment, lambda port, host: None, "master",
                         password)
