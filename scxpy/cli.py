"""The `scxpy` command: a thin layer wiring codegen/, runtime/ and vm/.

Each subcommand lives in its own scxpy/cmd_*.py module exposing
`register(subparsers)`; the parser it adds sets `func(args) -> int`.
A command that takes a trailing command line (`scxpy vm -- CMD ...`)
names the attribute for it with `set_defaults(trailing=NAME)`: the words
after the first `--` go there untouched, never parsed as our options.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from scxpy.base.errors import ScxpyError
from scxpy import __version__, cmd_bench, cmd_check, cmd_dev, cmd_policy, cmd_run, cmd_tune, cmd_vm

# Order is the order of `scxpy --help`.
COMMANDS = (cmd_policy, cmd_run, cmd_dev, cmd_vm, cmd_bench, cmd_tune, cmd_check)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scxpy", description="Write, run and benchmark sched_ext schedulers in Python."
    )
    parser.add_argument("--version", action="version", version=f"scxpy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    head, tail = argv, None
    if "--" in argv:
        i = argv.index("--")
        head, tail = argv[:i], argv[i + 1:]
    args = parser.parse_args(head)
    trailing = getattr(args, "trailing", None)
    if trailing:
        setattr(args, trailing, tail or [])
    elif tail is not None:
        parser.error(f"`scxpy {args.command}` takes no command after --")
    try:
        return int(args.func(args) or 0)
    except ScxpyError as e:
        print(f"scxpy: error: {e}", file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        print("scxpy: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`scxpy show X | head`): stop quietly, as cat does.
        # Python flushes stdout again at exit; point it at /dev/null so that fails not.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
