"""`nvr store check|repair --state-dir DIR`: the statistics store's state, and a way out of damage.

    nvr store check --state-dir DIR [--json]   integrity, schema, orphans, hours per channel;
                                               exit 0 intact, 2 damaged (one `error:` line last)
    nvr store repair --state-dir DIR           move a damaged store aside with a timestamp, start
                                               a fresh one with the rows still readable; never deletes

The engine is `firmware.store_health`.
"""
from __future__ import annotations

import json
from pathlib import Path

from nvr.cli import UserError


def add_parser(sub):
    p = sub.add_parser("store", help="check the statistics store, or move a damaged one aside",
                       description=__doc__.split("\n\n")[0])
    ssub = p.add_subparsers(dest="store_command", required=True, metavar="{check,repair}")
    c = ssub.add_parser("check", help="integrity, orphaned rows and hours per channel (reads only)")
    c.add_argument("--state-dir", required=True, type=Path, help="the appliance's state directory")
    c.add_argument("--json", action="store_true", help="one JSON object instead of the text")
    c.set_defaults(func=run)
    r = ssub.add_parser("repair", help="move a damaged store aside (timestamped) and start a fresh one")
    r.add_argument("--state-dir", required=True, type=Path, help="the appliance's state directory")
    r.set_defaults(func=run)


def run(args) -> int:
    if args.store_command == "check":
        return _check(args)
    return _repair(args)


def _check(args) -> int:
    from firmware.clock import format_clock
    from firmware.store_health import check

    if not args.state_dir.is_dir():
        raise UserError(f"--state-dir {args.state_dir}: not a directory")
    h = check(args.state_dir)
    if not h.exists:
        raise UserError(f"no statistics store in {args.state_dir} (expected {h.path.name}); check --state-dir")
    if args.json:
        print(json.dumps({
            "path": str(h.path), "size": h.size, "damaged": h.damaged, "damage": h.damage,
            "integrity": h.integrity, "migrations": h.migrations, "pending_migrations": h.pending_migrations,
            "layouts": h.layouts, "lost_layouts": h.lost_layouts, "missing_layouts": h.missing_layouts,
            "orphan_hours": h.orphan_hours,
            "channels": [{"channel": c.channel, "name": c.name, "hours_with_data": c.hours_with_data,
                          "first_hour": None if c.first_hour is None else format_clock(c.first_hour),
                          "last_hour": None if c.last_hour is None else format_clock(c.last_hour),
                          "visits": c.visits, "dwell_seconds": round(c.dwell_seconds, 3),
                          "days_match": c.days_match} for c in h.channels],
        }))
    else:
        print(f"store      {h.path} ({h.size:,} bytes)")
        if h.damage:
            print(f"readable   no: {h.damage}")
        else:
            print(f"integrity  {'; '.join(h.integrity)}")
            step = h.migrations[-1] if h.migrations else "none"
            pending = f"; {len(h.pending_migrations)} to apply at the next boot" if h.pending_migrations else ""
            print(f"schema     {step}{pending}")
            print(f"layouts    {h.layouts}" + (f", {len(h.lost_layouts)} lost" if h.lost_layouts else ""))
            if h.orphan_hours:
                print(f"orphans    {h.orphan_hours} hour rows refer to a layout an older firmware lost on a full "
                      "disk; reports count them in the totals and leave them out of the space heat map")
            else:
                print("orphans    none")
            for c in h.channels:
                span = "no hours with data" if c.first_hour is None else \
                    f"{c.hours_with_data:,} hours with data, {format_clock(c.first_hour)[:13]}h to " \
                    f"{format_clock(c.last_hour)[:13]}h"
                check_days = "" if c.days_match else "; the daily roll-up does not add up to the hours"
                print(f"channel {c.channel:<3} {c.name}: {span}, visits {c.visits:,}{check_days}")
    if h.damaged:
        what = h.damage or "; ".join(h.integrity)
        raise UserError(f"{h.path}: the store is damaged ({what}); run `nvr store repair --state-dir "
                        f"{args.state_dir}` to move it aside and start a new one (nothing is deleted)")
    return 0


def _repair(args) -> int:
    from firmware.applock import LockError, claim
    from firmware.store import StoreError
    from firmware.store_health import repair

    if not args.state_dir.is_dir():
        raise UserError(f"--state-dir {args.state_dir}: not a directory")
    try:
        # The appliance's own claim on the directory: refused while one runs there, and
        # none can boot on it while the store is being moved.
        lock = claim(args.state_dir, [], 0.0)
    except LockError as e:
        raise UserError(f"{e}; it holds the store repair would move") from None
    try:
        result = repair(args.state_dir)
    except StoreError as e:
        raise UserError(str(e)) from None
    finally:
        lock.release()
    for path in result.moved:
        print(f"moved aside  {path}")
    print(f"new store    {result.fresh}")
    if result.salvaged_hours:
        lost = f"; {result.unreadable_rows} rows could not be read" if result.unreadable_rows else ""
        print(f"recovered    {result.salvaged_hours:,} hours of {result.salvaged_channels} channels from the "
              f"damaged store{lost}")
    else:
        print("recovered    nothing readable in the damaged store; the new store starts empty")
    return 0
