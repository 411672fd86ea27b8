"""The obskit command: demo Prometheus, metric catalog, dashboards."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from . import config
from .errors import ConfigError, ObskitError

__all__ = ["main"]

log = logging.getLogger("obskit")
Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line: ``obskit demo start: error: ... (see --help)``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


# -- option types: each raises ArgumentTypeError with a valid example (argparse exits 2) --------


def _bad(what: str, text: str, reason: str = "") -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"must be {what}; got {text!r}{reason}")


def _end_option(text: str) -> str:
    """``now`` or an ISO 8601 instant; returned as given (``now`` is resolved at start)."""
    if text != "now":
        try:
            config.parse_instant(text, "--end")
        except ConfigError:
            raise _bad("now or an ISO 8601 instant like 2026-02-14T18:00:00Z", text) from None
    return text


def _port(text: str) -> int:
    value = int(text) if text.strip().isdigit() else -1
    if not 1 <= value <= 65535:
        raise _bad("a TCP port 1-65535 like 9090 (leave it out for a free one)", text)
    return value


def _demo_check(field: str, value: float) -> None:
    """Ask the demo's own spec whether ``field=value`` is allowed (one place for its limits)."""
    from .demo.scenario import DemoSpec

    try:
        DemoSpec(**{field: value})  # type: ignore[arg-type]
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _bad("a number of days like 7 or 0.5", text) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise _bad("a finite number of days like 7 or 0.5", text)
    _demo_check("days", value)
    return value


def _step(text: str) -> int:
    if not text.strip().isdigit():
        raise _bad("a scrape interval in whole seconds like 30", text)
    _demo_check("step", int(text))
    return int(text)


def _seed(text: str) -> int:
    if not text.strip().isdigit():
        raise _bad("a whole number >= 0 like 42", text)
    return int(text)


def _folder(text: str) -> str:
    path = Path(text)
    if not path.is_dir():
        why = " (it is a file)" if path.exists() else " (no such folder)"
        raise _bad("an existing folder like notebooks", text, why)
    if not os.access(path, os.R_OK | os.X_OK):
        raise _bad("a folder you can read like notebooks", text, " (permission denied)")
    return text


def _end(text: str) -> datetime:
    if text == "now":
        return datetime.now(UTC)
    return config.parse_instant(text, "--end")


def _spec(args: argparse.Namespace):
    from .demo.scenario import DemoSpec

    if getattr(args, "live", False):
        from .demo.live import live_spec

        return live_spec(datetime.now(UTC), args.days, args.step, args.seed)
    return DemoSpec(end=_end(args.end), days=args.days, step=args.step, seed=args.seed)


def _demo(args: argparse.Namespace):
    from .demo import server

    data = getattr(args, "data", None)  # `demo start --data DIR`: replay a frozen fixture
    return server.DemoPrometheus(_spec(args), port=args.port, live=args.live, data=data)


def _add_spec_options(p: argparse.ArgumentParser, default_end: str = "now") -> None:
    p.add_argument(
        "--end",
        type=_end_option,
        default=default_end,
        metavar="ISO|now",
        help=f"end of the data, e.g. 2026-02-14T18:00:00Z (default: {default_end})",
    )
    p.add_argument(
        "--days", type=_days, default=7.0, help="length of the data in days (default: 7)"
    )
    p.add_argument(
        "--step", type=_step, default=30, help="scrape interval in seconds (default: 30)"
    )
    p.add_argument("--seed", type=_seed, default=42, help="random seed >= 0 (default: 42)")  # fmt: skip


def _add_port_and_live(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--port", type=_port, default=None, help="port on 127.0.0.1 (default: a free one)"
    )
    p.add_argument(
        "--live", action="store_true", help="also run the live simulator (needs --end now)"
    )


def _demo_start(args: argparse.Namespace) -> int:
    from .demo import server

    running = server.status()
    if running:
        print(f"a demo Prometheus is already running on {running['url']}; `obskit demo stop` first")
        print(f"PROMETHEUS_URL={running['url']}")
        return 1
    prom = _demo(args)
    prom.workdir = config.cache_dir() / "demo" / "run"
    prom.start(detach=True)
    assert prom.build is not None
    server.write_state(prom.state())
    source = "cached data" if prom.build.cached else f"{prom.build.samples:,} samples generated"
    ends = "history up to now, live from here" if args.live else f"data ends {prom.state()['end']}"
    print(f"demo Prometheus ready on {prom.url} ({source}; {ends})")
    if args.live:
        print(f"live simulator on 127.0.0.1:{prom.live_port}, scraped every {prom.spec.step} s")
    else:
        print(f"OBSKIT_NOW={prom.state()['end']}")
    print(f"PROMETHEUS_URL={prom.url}")
    return 0


def _demo_status(args: argparse.Namespace) -> int:
    from .demo import server

    state = server.status()
    if not state:
        print("no demo Prometheus is running (start one with `obskit demo start`)")
        return 1
    print(f"running: PID {state['pid']} on {state['url']}, data ends {state['end']}")
    return 0


def _demo_stop(args: argparse.Namespace) -> int:
    from .demo import server

    print(server.stop())
    return 0


def _demo_lab(args: argparse.Namespace) -> int:
    """Start the demo Prometheus, then JupyterLab on notebooks/; Ctrl-C stops both."""
    from .demo import server

    if server.status():
        print("a demo Prometheus is already running; `obskit demo stop` first")
        return 1
    with _demo(args) as prom:
        server.write_state(prom.state())
        env = {**os.environ, "PROMETHEUS_URL": prom.url}
        if not args.live:
            env["OBSKIT_NOW"] = prom.state()["end"]
        print(f"demo Prometheus ready on {prom.url}; starting JupyterLab (Ctrl-C stops both)")
        with tempfile.TemporaryDirectory(prefix="obskit-lab-") as private:
            token, port = secrets.token_hex(24), server.free_port()
            argv = [sys.executable, "-m", "jupyter", "lab", "--ip=127.0.0.1", "--no-browser",
                    f"--port={port}", "--ServerApp.port_retries=0",
                    f"--ServerApp.root_dir={Path(args.notebooks).resolve()}",
                    f"--config={_token_config(Path(private), token)}"]  # fmt: skip
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                argv.append("--allow-root")  # containers and CI run as root; JupyterLab refuses
            lab = subprocess.Popen(argv, env=env)
            try:
                if _listening(port, lab):  # JupyterLab masks a token it did not generate
                    print(f"JupyterLab: http://127.0.0.1:{port}/lab?token={token}", flush=True)
                return lab.wait()
            except KeyboardInterrupt:
                lab.send_signal(signal.SIGINT)
                lab.send_signal(signal.SIGINT)  # JupyterLab asks for confirmation on the first one
                lab.wait(timeout=20)
                return 0
            finally:
                config.state_file().unlink(missing_ok=True)


def _listening(port: int, process: subprocess.Popen[bytes], timeout: float = 120) -> bool:
    """Wait until ``process`` accepts connections on 127.0.0.1:``port`` (False if it exits)."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        time.sleep(0.1)
    return False


def _token_config(folder: Path, token: str) -> Path:
    """A JupyterLab config file (mode 0600) that sets ``token``.

    Loaded after the user's own config, so a token disabled there (``token = ''``)
    cannot leave the demo's kernels open to every local process; passed as a file, not
    on the command line, so ``ps`` does not show it.
    """
    path = folder / "obskit_lab_config.py"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(f"c.IdentityProvider.token = {token!r}\n")
    return path


def _incidents(args: argparse.Namespace) -> int:
    from .demo.scenario import incidents

    print(incidents(_spec(args))[["name", "start", "end"]].to_string(index=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="obskit", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo", help="the local demo Prometheus", description="Run the demo Prometheus."
    )
    dsub = demo.add_subparsers(dest="action", required=True, metavar="ACTION")
    start = dsub.add_parser(
        "start", help="start it in the background; prints PROMETHEUS_URL=... last"
    )
    _add_spec_options(start)
    _add_port_and_live(start)
    from .demo._freeze_cli import add_data_option, add_freeze_parser

    add_data_option(start)
    start.set_defaults(func=_demo_start)
    dsub.add_parser("status", help="say whether it runs and where").set_defaults(func=_demo_status)
    dsub.add_parser("stop", help="stop the background demo").set_defaults(func=_demo_stop)
    lab = dsub.add_parser(
        "lab", help="run the demo and JupyterLab in the foreground; Ctrl-C stops both"
    )
    _add_spec_options(lab)
    _add_port_and_live(lab)
    lab.add_argument(
        "--notebooks",
        type=_folder,
        default="notebooks",
        metavar="DIR",
        help="folder JupyterLab opens (default: notebooks)",
    )
    lab.set_defaults(func=_demo_lab)
    inc = dsub.add_parser("incidents", help="list the scripted incidents of a data set")
    _add_spec_options(inc)
    inc.set_defaults(func=_incidents)

    from ._catalog_cli import add_catalog_parser
    from .promql._cli import add_lint_parser

    add_catalog_parser(sub)
    add_lint_parser(sub)
    from .dashboards._cli import add_parsers

    add_parsers(sub)
    add_freeze_parser(sub)
    return parser


def _subparser(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> argparse.ArgumentParser:
    """The parser of the subcommand ``args`` came from (``obskit demo start``), else ``parser``."""
    current = parser
    while True:
        subs = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        chosen = getattr(args, subs[0].dest, None) if subs else None
        if not subs or chosen not in subs[0].choices:
            return current
        current = subs[0].choices[chosen]


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """``parse_args``, with unknown arguments reported by the subcommand they were given to."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        _subparser(parser, args).error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def _check_combinations(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Options that are valid alone but not together: one-line usage error, exit 2."""
    if getattr(args, "live", False) and args.end != "now":
        _subparser(parser, args).error(
            f"argument --live: continues the data from the present, so it needs --end now; "
            f"got --end {args.end} (e.g. `obskit demo {args.action} --live`)"
        )


def main(argv: Sequence[str] | None = None) -> int:
    from ._catalog_cli import route

    parser = build_parser()
    args = _parse(parser, route(list(sys.argv[1:] if argv is None else argv)))
    _check_combinations(parser, args)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s"
    )
    try:
        return int(args.func(args))
    except ObskitError as exc:
        print(f"obskit: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
