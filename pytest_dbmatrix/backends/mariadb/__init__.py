"""MariaDB: the mysql family with its own dialect name, RETURNING on INSERT and CHECK errors."""

from __future__ import annotations

from pytest_dbmatrix.backends.mysql import MySQLBackend


class MariaDBBackend(MySQLBackend):
    kind = "mariadb"
    default_driver = "mariadb+pymysql"
    extra = "mariadb"
    default_image = "mariadb:11.4"
    product = "MariaDB"
    min_version = (10, 6)
    static_dialect_class = "sqlalchemy.dialects.mysql.mariadb:MariaDBDialect"
    static_server_version = (10, 11)
    capabilities = MySQLBackend.capabilities._replace(
        insert_returning=True,
        notes=(
            "DDL commits implicitly: a test that runs DDL cannot be rolled back",
            "CHECK violations raise OperationalError 4025, not IntegrityError",
        ),
    )
