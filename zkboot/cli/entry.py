"""The ``zkboot`` console script.

Kept apart from ``zkboot.cli`` so that the light subcommands (``probe``, ``metrics``: run every
few seconds in every pod) are dispatched before typer and the start path are imported, and
``zkboot start`` (every pod's entrypoint) before typer is.  Started with ``python -S`` (the image's
scripts, see zkboot.cli.nosite), every command but the light ones runs ``site.main()`` first.
"""

import sys


def main() -> None:
    from zkboot.cli.light import finish, zkboot_light

    args = sys.argv[1:]
    code = zkboot_light(args)
    if code is not None:
        finish(code)
    if sys.flags.no_site:  # a script rewritten by zkboot.cli.nosite: only the light commands go without site
        import site

        site.main()
    if args[:1] == ["start"] and not {"-h", "--help"} & set(args[1:]):
        from zkboot.cli.legacy import zkboot_start  # every pod's entrypoint: no typer (see there)

        sys.exit(zkboot_start(args[1:]))
    from zkboot.cli.app import main as cli_main

    sys.exit(cli_main())
