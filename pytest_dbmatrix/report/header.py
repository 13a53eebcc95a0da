"""Lines for the report header: the backends, where they come from, and what served them."""

from __future__ import annotations

from pytest_dbmatrix.facts import problem_lines, summary_line
from pytest_dbmatrix.redact import mask_url
from pytest_dbmatrix.run_state import MatrixState
from pytest_dbmatrix.settings import Settings


def settings_lines(settings: Settings) -> list[str]:
    """Printed before collection: what is configured, with sources; nothing is connected."""
    strict = ", strict" if settings.strict.value else ""
    lines = [f"dbmatrix: {', '.join(settings.backends.value)} "
             f"(from {settings.backends.source}{strict})"]
    for spec in settings.specs.values():
        if not spec.family.server_backed:
            fk = "on" if settings.sqlite_foreign_keys.value else "off (SQLite default)"
            journal = ("file, fsync (SQLite default)" if settings.sqlite_durable.value
                       else "in memory, no fsync")
            where = f"{mask_url(spec.url.value)} ({spec.url.source})" if spec.url else "embedded"
            lines.append(f"  {spec.name}: {where}, foreign keys {fk}, journal {journal}")
        elif spec.url:
            lines.append(f"  {spec.name}: {mask_url(spec.url.value)} (from {spec.url.source})")
        else:
            forced = f" (provider {spec.provider.value})" if spec.provider else ""
            lines.append(f"  {spec.name}: no URL; started on first use{forced}")
    return lines


def backend_lines(state: MatrixState, used: list[str], verbose: int = 0) -> list[str]:
    """Printed after collection: the real server behind each backend the tests use; with -v
    also its environment facts (charset, strictness, FKs, time zone, ...)."""
    if not used:
        return []
    lines = ["dbmatrix backends in use:"]
    for name in used:
        if name in state.provisioner.live:
            live = state.provisioner.live[name]
            lines.append(f"  {name}: " + served_by(live.info.label, live.provider,
                                                    live.dialect_note, live.database))
            if live.reaped:
                lines.append(f"    removed {len(live.reaped)} database(s) left by killed runs: "
                             f"{', '.join(live.reaped)}")
            lines += [f"    {key}: {value}" for key, value in live.server.details.items()]
            if verbose > 0 and live.environment:
                lines.append(f"    environment: {summary_line(live.environment)}")
                lines += [f"    {line}" for line in problem_lines(live.environment)]
        elif name in state.provisioner.failed:
            word = "ERROR" if state.settings.strict.value else "skipped"
            lines.append(f"  {name}: {word}: {state.provisioner.failed[name].reason}")
    return lines


def served_by(server: str, provider: str | None, note: str | None,
              database: str | None = None) -> str:
    """"MariaDB 10.11.19 via url, database X; mysql dialect against a MariaDB server"."""
    label = f"{server} via {provider}" if provider else server
    if database:
        label += f", database {database}"
    return f"{label}; {note}" if note else label
