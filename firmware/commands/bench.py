"""`nvr bench`: placeholder until its issue lands."""


def add_parser(sub):
    p = sub.add_parser("bench", help="(not yet available)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise SystemExit("error: nvr bench is not available yet")
