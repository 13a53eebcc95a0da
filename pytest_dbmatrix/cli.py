"""The `dbmatrix` command (also `python -m pytest_dbmatrix`): servers up/down/status, doctor."""

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
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dbmatrix", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        module.add_arguments(name, sub)
        sub.set_defaults(run=getattr(module, f"run_{name}"))
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
