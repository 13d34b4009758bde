"""The ``zkboot`` console script: which front end parses which command.

``probe`` and ``metrics`` (every few seconds in every pod) go to the probes' parser, and ``start``
(every pod's entrypoint) to the start commands' parser, so that neither loads typer; every other
command, and ``start --help``, is typer's (zkboot.cli.app).
"""

import sys


def main() -> None:
    from zkboot.cli.probe import probe_or_metrics

    args = sys.argv[1:]
    code = probe_or_metrics(args)
    if code is not None:
        sys.exit(code)
    if args[:1] == ["start"] and not {"-h", "--help"} & set(args[1:]):
        from zkboot.cli.start import zkboot_start

        sys.exit(zkboot_start(args[1:]))
    from zkboot.cli.app import main as typer_main

    sys.exit(typer_main())
