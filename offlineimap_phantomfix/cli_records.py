"""``report`` and ``clear``: the commands that read and change the recorded phantoms, with no server and no
offlineimap run (``report`` opens every store read-only, except to mark what ``--new`` showed)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offlineimap_phantomfix.cli_common import (
    EXIT_OK,
    existing_store,
    load_config,
    out,
    plural,
    state_dirs,
    write_all,
)
from offlineimap_phantomfix.errors import PhantomFixError
from offlineimap_phantomfix.sanitize import clean_text

if TYPE_CHECKING:
    from offlineimap_phantomfix.config import PhantomConfig
    from offlineimap_phantomfix.store import PhantomStore
    from offlineimap_phantomfix.verdicts import PhantomRecord


# --- report ---------------------------------------------------------------------------------------------

def cmd_report(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    from datetime import datetime, timezone

    from offlineimap_phantomfix import marks, report, report_short

    now = datetime.now(timezone.utc)
    since = now - args.since if args.since is not None else None
    shown: list[PhantomRecord] = []
    stores: list[tuple[Path, list[PhantomRecord]]] = []
    for directory in state_dirs(config, args.account):
        with existing_store(directory) as store:
            if store is None:
                continue
            records = report.select(store.records(account=args.account), args.account, since)
            if args.new is not None:
                records = marks.unshown(store, records, args.new)
            if records:
                stores.append((directory, records))
                shown.extend(records)
    if args.new is not None and not shown:
        return EXIT_OK  # nothing new: silent, so a cron job mails nothing
    from offlineimap_phantomfix.quarantine import GONE_NOTE, resolve_records

    tz = timezone.utc if args.utc else None
    if args.json:
        text = report.render_json(resolve_records(shown))
    elif args.long:
        text = report.render_text(resolve_records(shown, gone=GONE_NOTE), account=args.account, now=now, tz=tz,
                                  since=since, news_for=args.new)
    else:
        text = report_short.render_short(shown, account=args.account, now=now, tz=tz, since=since,
                                         retry_after=_retry_after(config), news_for=args.new)
    write_all(text)  # a reader gone (BrokenPipeError) or a full disk ends here, before anything is marked
    if args.new is not None:
        for directory, records in stores:
            with existing_store(directory, readonly=False) as store:
                if store is not None:
                    marks.mark_shown(store, records, args.new)
    return EXIT_OK


def _retry_after(config: PhantomConfig) -> dict[str, Any]:
    """Each account's ``phantom_retry_after``, for the report's line on when skipped messages are retried."""
    found: dict[str, Any] = {}
    for account in config.accounts():
        try:
            found[account] = config.phantom_options(account).retry_after
        except PhantomFixError:
            continue  # doctor says what is wrong with it; the report just leaves the line out
    return found


# --- clear ----------------------------------------------------------------------------------------------

def cmd_clear(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    account = None if args.all else args.account
    cleared: list[PhantomRecord] = []
    for directory in state_dirs(config, account):
        with existing_store(directory, readonly=args.dry_run) as store:
            if store is None:
                continue
            if args.finished:
                cleared.extend(_clear_finished(store, args, account))
                continue
            cleared.extend(store.clear(account=account, folder=args.folder, uid=args.uid, dry_run=args.dry_run))
    cleared.sort(key=lambda record: record.key)
    verb = "would clear" if args.dry_run else "cleared"
    for record in cleared:
        out(f"{verb}: {_describe(record)}")
    count = plural(len(cleared), "entry", "entries")
    if args.dry_run:
        out(f"{count} would be cleared (dry run, nothing changed).")
    elif cleared and args.finished:
        out(f"{count} cleared; {'it was' if len(cleared) == 1 else 'they were'} recovered, vanished or purged, "
            "so nothing is fetched again.")
    elif cleared:
        out(f"{count} cleared; {'it is' if len(cleared) == 1 else 'they are'} fetched again on the next sync.")
    else:
        out("0 entries cleared.")
    return EXIT_OK


def _clear_finished(store: PhantomStore, args: argparse.Namespace, account: str | None) -> list[PhantomRecord]:
    from offlineimap_phantomfix import marks
    from offlineimap_phantomfix.report import FINISHED, category

    records = store.records(account=account, folder=args.folder, uid=args.uid)
    return marks.delete_finished(store, [r for r in records if category(r) in FINISHED], dry_run=args.dry_run)


def _describe(record: PhantomRecord) -> str:
    key = record.key
    return (f"{clean_text(key.account)} {clean_text(key.folder)} UID {key.uid} "
            f"(uidvalidity {key.uidvalidity}, {record.verdict.value})")
