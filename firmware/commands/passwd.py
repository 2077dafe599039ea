"""`nvr passwd`: placeholder until its issue lands."""


def add_parser(sub):
    p = sub.add_parser("passwd", help="(not yet available)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise SystemExit("error: nvr passwd is not available yet")
