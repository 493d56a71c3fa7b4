"""`lakehouse`: manage the local stack and feed it events.

lakehouse up [--with flink,superset,connect,spark]
                              install what is missing, start, wait for health, print a table
lakehouse down                stop the processes the launcher started
lakehouse status              the table again
lakehouse logs SERVICE        the service's log files (-n lines, -f to follow)
lakehouse produce ...         the event generator (see `lakehouse produce --help`)
lakehouse app --rate N        the application whose database CDC captures (see `lakehouse app --help`)
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from infra import app, generator
from infra.stack import stack
from infra.stack.config import StackConfig
from infra.stack.service import StackError


def _with(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _cmd_up(cfg: StackConfig, args: argparse.Namespace) -> int:
    extra = tuple(name for group in args.with_ for name in group)
    rows = stack.up(cfg, extra, log=lambda msg: print(msg, file=sys.stderr))
    print(stack.format_table(rows))
    return 0 if all(r.healthy for r in rows) else 1


def _cmd_down(cfg: StackConfig, args: argparse.Namespace) -> int:
    stopped = stack.down(cfg)
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def _cmd_status(cfg: StackConfig, args: argparse.Namespace) -> int:
    rows = stack.status(cfg)
    print(stack.format_table(rows))
    return 0 if all(r.healthy for r in rows) else 1


def _cmd_logs(cfg: StackConfig, args: argparse.Namespace) -> int:
    files = sorted(cfg.logs.glob(f"{args.service}.log")) + sorted(cfg.logs.glob(f"{args.service}-*.log"))
    if not files:
        print(f"no logs for {args.service!r} under {cfg.logs}", file=sys.stderr)
        return 1
    tail = ["tail", "-n", str(args.lines)] + (["-F"] if args.follow else [])
    return subprocess.call(tail + [str(f) for f in files])


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `lakehouse` console script."""
    parser = argparse.ArgumentParser(
        prog="lakehouse", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the stack")
    p_up.add_argument(
        "--with",
        dest="with_",
        type=_with,
        action="append",
        default=[],
        metavar="SERVICE[,SERVICE]",
        help=f"optional services: {', '.join(stack.OPTIONAL_SERVICES)}",
    )
    p_up.set_defaults(func=_cmd_up)
    sub.add_parser("down", help="stop what the launcher started").set_defaults(func=_cmd_down)
    sub.add_parser("status", help="service table").set_defaults(func=_cmd_status)
    p_logs = sub.add_parser("logs", help="show a service's logs")
    p_logs.add_argument("service")
    p_logs.add_argument("-n", "--lines", type=int, default=200)
    p_logs.add_argument("-f", "--follow", action="store_true")
    p_logs.set_defaults(func=_cmd_logs)
    generator.add_arguments(sub.add_parser("produce", help="write generated events to Kafka"))
    app.add_arguments(sub.add_parser("app", help="the application: write orders to its database (for CDC)"))
    args = parser.parse_args(argv)
    cfg = StackConfig.from_env()
    try:
        return args.func(cfg, args)
    except StackError as exc:
        print(f"lakehouse {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
