"""The `dbmatrix` command (also `python -m pytest_dbmatrix`): servers up/down/status, doctor,
merge, accept."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS = {
    "up": ("pytest_dbmatrix.servers", "start the configured backends and print URLs to export"),
    "down": ("pytest_dbmatrix.servers", "stop the backends started by 'up'"),
    "status": ("pytest_dbmatrix.servers", "show the backends started by 'up'"),
    "doctor": ("pytest_dbmatrix.doctor", "check a database you do not own before installing"),
    "merge": ("pytest_dbmatrix.report.merge",
              "join the JSON/JUnit reports of several jobs into one matrix and report"),
    "accept": ("pytest_dbmatrix.report.accept",
               "print dbmatrix_accept lines that accept the findings of a JSON report"),
}


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="dbmatrix", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    parsers = {name: commands.add_parser(name, help=text, description=text)
               for name, (_, text) in COMMANDS.items()}
    chosen = next((arg for arg in args_list if arg in COMMANDS), None)
    if chosen:  # import only the chosen command: its drivers are not needed by the others
        module = importlib.import_module(COMMANDS[chosen][0])
        module.add_arguments(chosen, parsers[chosen])
        parsers[chosen].set_defaults(run=getattr(module, f"run_{chosen}"))
    args = parser.parse_args(args_list)
    code: int = args.run(args)
    return code

if __name__ == "__main__":
    sys.exit(main())
