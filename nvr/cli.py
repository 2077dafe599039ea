"""`nvr`: the appliance's command line. Each subcommand lives in `nvr.commands`.

Exit codes: 0 normal, 2 user error (one `error: ...` line on stderr), 1 internal error.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import math
import sys

# Subcommand modules; each has `add_parser(subparsers)` and `run(args) -> int`.
COMMANDS = ("run", "report", "bench", "passwd", "demo", "reanalyze", "store")


class UserError(Exception):
    """Something the user can fix; printed as one `error:` line, exit status 2."""


def bounded(kind: type, lo: float, hi: float, unit: str = ""):
    """An argparse `type=`: a whole number (kind int) or a finite number (kind float) in lo..hi.

    Refusals come out as argparse's one `error:` line, exit 2: "nan", "inf",
    "1e400" and 100,000,000 channels never reach the command."""
    what = "a whole number" if kind is int else "a number"
    span = f"{lo:g}..{hi:g}{unit}"

    def parse(text: str):
        try:
            value = kind(text.strip()) if kind is int else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not {what} ({span})") from None
        if math.isnan(value):
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not {what} ({span})")
        if value < lo:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is too small: give at least {lo:g}{unit}")
        if value > hi:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is too large: give at most {hi:g}{unit}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own usage errors: one line, exit 2
        # argparse quotes what it refuses: a 5,000-character argument stays one short line.
        if len(message) > 300:
            message = message[:240] + " ... " + message[-50:]
        self.exit(2, f"error: {self.prog}: {' '.join(message.split())}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nvr", description="NVR firmware simulator with the heat map.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"nvr.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return args.func(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
