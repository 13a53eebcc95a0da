"""Oracle: compile-only. DDL is compiled and Alembic history rendered offline for it; the plugin
never provisions or connects to an Oracle server, so it is not a selectable backend."""

from __future__ import annotations

from pytest_dbmatrix.backends.base import Backend, Capabilities, StaticRules


class OracleBackend(Backend):
    kind = "oracle"
    default_driver = "oracle+oracledb"
    driver_module = "oracledb"
    extra = ""
    product = "Oracle"
    deferrable_foreign_keys = True
    static_dialect_class = "sqlalchemy.dialects.oracle.base:OracleDialect"
    static_server_version = (19,)
    static_rules = StaticRules(identifier_limit=128, key_bytes=6398, primary_key_bytes=6398,
                               unicode_bytes=2, lob_key_category="text-in-key",
                               string_needs_length=True)
    capabilities = Capabilities(
        transactional_ddl=False,
        enforces_foreign_keys=True,
        enforces_check=True,
        enforces_length=True,
        case_sensitive_compare=True,
        keeps_timezone=True,
        insert_returning=True,
        update_returning=True,
        max_identifier_length=128,
        notes=("compile-only: never run on a server by dbmatrix, so nothing here is measured",
               "DDL commits implicitly", "identifiers over 128 bytes are refused (12.2+)"),
    )
