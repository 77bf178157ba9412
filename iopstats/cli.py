"""The ``iopstats`` console script.

Each subcommand lives beside the code it drives, in a module exposing
``HELP`` (one line), ``configure(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from iopstats.exceptions import IopstatsError

#: subcommand -> module implementing it
SUBCOMMANDS: dict[str, str] = {
    "report": "iopstats.report.cli",
    "load": "iopstats.io.cli",
    "tedsd": "iopstats.io.tedsd_cli",
    "synth": "iopstats.synthetic.cli",
    "dictionary": "iopstats.io.dictionary_cli",
    "convert": "iopstats.io.convert_cli",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iopstats",
        description=(
            "Evaluate intensive outpatient programs (IOP) against other levels of care: "
            "load de-identified episode records, compute retention, completion and relapse "
            "metrics with case-mix adjusted comparisons, and publish private-by-default "
            "HTML reports."
        ),
    )
    from iopstats import __version__

    parser.add_argument("--version", action="version", version=f"iopstats {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, modname in SUBCOMMANDS.items():
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:  # subcommand not installed in this build
            if exc.name and exc.name.startswith("iopstats"):
                continue
            raise
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        mod.configure(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except IopstatsError as exc:
        print(f"iopstats {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file that cannot be written: one line with the fix, not a traceback
        from iopstats.report.runfiles import WRITE_FAULTS

        if exc.errno not in WRITE_FAULTS:
            raise
        print(f"iopstats {args.command}: error: cannot write {exc.filename or 'a file'}: {exc.strerror}. "
              "Fix: free space or choose a writable folder", file=sys.stderr)
        return 4


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
