"""`nvr run`: boot the appliance with its front ends and run until --duration or a signal."""
from __future__ import annotations

import logging
from pathlib import Path

from nvr.cli import UserError, bounded
from firmware.clock import CLOCK_END, ClockError, check_run, parse_start
from firmware.config import ConfigError, load_config
from firmware.service import FrontEndError

log = logging.getLogger("firmware")


def add_parser(sub):
    p = sub.add_parser("run", help="boot the appliance and analyse its channels")
    p.add_argument("--config", required=True, type=Path, help="appliance YAML configuration")
    p.add_argument("--state-dir", required=True, type=Path, help="statistics, password and snapshots")
    p.add_argument("--speed", choices=("realtime", "max"), default="realtime",
                   help="realtime: frames when they are due (drops when late); max: as fast as analysed")
    p.add_argument("--start", help="appliance clock at start, ISO 8601 (default: now)")
    p.add_argument("--duration", type=bounded(float, 0, CLOCK_END, " s"),
                   help="stop after this many seconds of appliance time")
    p.add_argument("--console", choices=("none", "stdio", "pty"), default="none",
                   help="serial console on this terminal or on a new pseudo-terminal")
    p.set_defaults(func=run)


def run(args) -> int:
    from firmware.appliance import Appliance, RunOptions  # numba and PyAV load only when needed
    from firmware.store import StoreError

    if args.duration is not None and args.duration <= 0:
        raise UserError(f"--duration: {args.duration:g} must be a positive number of seconds")
    try:
        config = load_config(args.config)
        start = parse_start(args.start)
        check_run(start, args.duration)
    except (ConfigError, ClockError) as e:
        raise UserError(str(e)) from None
    options = RunOptions(state_dir=args.state_dir, speed=args.speed, start=start, duration=args.duration)
    appliance = Appliance(config, options, front_ends=front_ends(config, args.console))
    appliance.install_signal_handlers()
    try:
        appliance.boot()
    except (ConfigError, FrontEndError, StoreError) as e:  # a damaged store: one line, the file, the way out
        appliance.shutdown()
        raise UserError(str(e)) from None
    except BaseException:
        appliance.shutdown()  # worker processes must not outlive a failed boot
        raise
    try:
        return appliance.run()
    finally:
        appliance.shutdown()


def front_ends(config, console: str = "none") -> list:
    """The ways in the configuration asks for: the console (`--console`, and its TCP port)
    and the web server (`appliance.web.port`)."""
    from menu.session import ConsoleFrontEnd

    out = []
    tcp = config.appliance.console.tcp_port
    if console != "none" or tcp is not None:
        out.append(ConsoleFrontEnd(console, tcp))
    if config.appliance.web.port is not None:
        from web.server import WebFrontEnd

        out.append(WebFrontEnd(config.appliance.web))
    return out
