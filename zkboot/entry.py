"""The ``zkboot`` console script.

Kept apart from ``zkboot.cli`` so that light subcommands (the probes, which run every few seconds
in every pod) can be dispatched before typer is imported.
"""

from __future__ import annotations

import sys


def main() -> None:
    from zkboot.cli import main as cli_main

    sys.exit(cli_main())
