"""The ``zkboot`` console script.

Kept apart from ``zkboot.cli`` so that the light subcommands (``probe``, ``metrics``: run every
few seconds in every pod) are dispatched before typer and the start path are imported.
"""

from __future__ import annotations

import sys


def main() -> None:
    from zkboot.cli.light import zkboot_light

    code = zkboot_light(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from zkboot.cli.app import main as cli_main

    sys.exit(cli_main())
