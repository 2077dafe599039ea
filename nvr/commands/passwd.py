"""`nvr passwd`: set the admin password non-interactively (first line of standard input).

For installers who provision devices by script instead of activating each at
its console: ``echo 'Secret-2024' | nvr passwd --state-dir state``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from firmware.auth import PasswordError, PasswordStore
from nvr.cli import UserError


def add_parser(sub):
    p = sub.add_parser("passwd", help="set the admin password from the first line of standard input")
    p.add_argument("--state-dir", required=True, type=Path, help="the appliance's state directory")
    p.set_defaults(func=run)


# Characters: the console's line editor takes 200 per line, so a longer password could
# never be typed at the console; a longer first line (or /dev/zero) is refused unread.
MAX_PASSWORD = 128


def run(args) -> int:
    limit = 4 * MAX_PASSWORD + 2  # UTF-8 bytes of the longest password and its CRLF
    raw = sys.stdin.buffer.readline(limit)
    if len(raw) >= limit and not raw.endswith(b"\n"):
        raise UserError(f"the password is longer than {MAX_PASSWORD} characters")
    try:
        password = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise UserError("the password on standard input is not UTF-8 text") from None
    if len(password) > MAX_PASSWORD:
        raise UserError(f"the password is longer than {MAX_PASSWORD} characters")
    if not password.isprintable():
        raise UserError("the password has a control character; use printable characters")
    if not password:
        raise UserError("no password on standard input: pipe it in, e.g. `echo 'Secret-2024' | nvr passwd --state-dir DIR`")
    if args.state_dir.exists() and not args.state_dir.is_dir():
        raise UserError(f"--state-dir {args.state_dir}: not a directory")
    try:
        PasswordStore(args.state_dir).set(password)
    except PasswordError as e:
        raise UserError(f"{e}; nothing was changed") from None
    except OSError as e:
        raise UserError(f"--state-dir {args.state_dir}: cannot write the password file: {e.strerror}") from None
    print(f"admin password set in {args.state_dir}")
    return 0
