"""One module per `nvr` subcommand: `add_parser(subparsers)` and `run(args) -> int`."""
