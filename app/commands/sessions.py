"""``backstep sessions``: what the store holds, one session per line (or as JSON)."""

from __future__ import annotations

from .common import add_json_options, config_from, open_store, print_records

FIELDS = ("id", "program", "status", "started_at", "ended_at", "active_seconds", "elapsed_seconds",
          "phases_completed", "phases_total", "samples", "member", "stop_reason", "pain_before",
          "pain_after", "distance_m", "source")


def register(subparsers) -> None:
    parser = subparsers.add_parser("sessions", help="list stored sessions (newest first)")
    parser.add_argument("--db", metavar="FILE", help="the database (default: $BACKSTEP_DB or the station's)")
    add_json_options(parser, "sessions")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="only the newest N sessions")
    parser.set_defaults(func=run)


def as_record(row: dict) -> dict:
    return {
        "id": row["id"],
        "program": row["program_id"],
        "status": row["status"],
        "started_at": row["started_at"],
        "ended_at": row["ended_at"],
        "active_seconds": row["active_seconds"],
        "elapsed_seconds": row["elapsed_seconds"],
        "phases_completed": row["phases_completed"],
        "phases_total": row["phases_total"],
        "samples": row["samples"],
        "member": row["member_name"],
        "stop_reason": row["stop_reason"],
        "pain_before": row["pain_before"],
        "pain_after": row["pain_after"],
        "distance_m": row["distance_m"],
        "source": row["source"],
    }


def run(args) -> int:
    config = config_from(args)
    store = open_store(args, config, must_exist=True)
    try:
        rows = [as_record(r) for r in store.sessions(limit=args.limit)]
    finally:
        store.close()
    if print_records(rows, args):
        return 0
    if not rows:
        print("no sessions yet")
        return 0
    for r in rows:
        active = r["active_seconds"] or 0
        print(f"{r['id']:>5}  {r['started_at'][:19]}  {r['program']:<28} {r['status']:<15} "
              f"{active / 60:5.1f} min  {r['samples']:>5} samples")
    return 0
