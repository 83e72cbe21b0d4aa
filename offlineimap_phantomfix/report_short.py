"""Pure: the short report, the default of ``offlineimap-phantomfix report``.

One line per message, grouped by account and folder, each with at most one next step (a whole command that
can be pasted, or a few words), at most :data:`WIDTH` columns as long as the account and folder names allow.
Finished entries (recovered, vanished, purged) last seen more than :data:`FINISHED_AFTER` ago are one count line
per account, with the command that removes them. Server text is cleaned as in :mod:`report`.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from itertools import groupby

from offlineimap_phantomfix.options import format_duration
from offlineimap_phantomfix.report import (
    CATEGORY_WORDS,
    FINISHED,
    PROGRAM,
    account_header,
    category,
    local_time,
    next_retry,
    report_header,
    select,
    where_args,
    zone_label,
)
from offlineimap_phantomfix.sanitize import clean_text
from offlineimap_phantomfix.verdicts import PhantomRecord, Verdict

__all__ = ["FINISHED_AFTER", "WIDTH", "render_short", "short_step"]

WIDTH = 120
FINISHED_AFTER = timedelta(days=7)
_MIN_SUBJECT = 12  # a subject cut shorter than this says nothing


def short_step(record: PhantomRecord) -> str:
    """The one next step for the short report: a command to paste, or a few words."""
    kind = category(record)
    if kind == "purged":
        return "deleted on the server"
    if kind == "recovered":
        return f"synced ({clean_text(record.recovered_by)})" if record.recovered_by else "synced"
    if kind == "vanished":
        return "expunged on the server"
    if kind == "retried" and not record.confirmed:
        return "tried again on the next sync"
    if record.verdict is Verdict.PLACEHOLDER:
        return "read it in Outlook or webmail"
    if record.verdict is Verdict.UNPARSEABLE:
        return "raw copy in the quarantine (--long)" if record.quarantine else "see --long"
    return f"{PROGRAM} probe {where_args(record)}"


def _line(record: PhantomRecord, uid_width: int) -> str:
    kind = category(record)
    state = "" if kind == record.verdict.value else CATEGORY_WORDS[kind]
    prefix = f"    UID {record.key.uid:<{uid_width}}  {record.verdict.value:<11}  {state:<8}"
    step = short_step(record)
    subject = record.original.subject if record.original is not None else None
    room = WIDTH - len(prefix) - len(step) - 6  # two quotes and two gaps of two
    if subject and room >= _MIN_SUBJECT:
        return f'{prefix}  "{clean_text(subject, limit=room)}"  {step}'
    return f"{prefix}  {step}"


def _is_old_finished(record: PhantomRecord, cutoff: datetime) -> bool:
    return category(record) in FINISHED and record.last_seen.astimezone(timezone.utc) < cutoff


def _retry_line(records: Sequence[PhantomRecord], retry_after: timedelta | None, tz: tzinfo | None) -> str | None:
    if not any(category(record) == "skipped" for record in records):
        return None
    if retry_after is None:
        return "  skipped messages stay skipped until cleared (phantom_retry_after = 0)"
    due = next_retry(records, retry_after)
    if due is None:
        return None
    return f"  skipped messages are fetched again {format_duration(retry_after)} after their last try; the next at " \
           f"{local_time(due, tz)} {zone_label(due, tz)}"


def _finished_lines(old: Sequence[PhantomRecord], account: str, after: timedelta) -> list[str]:
    if not old:
        return []
    counts = {kind: sum(1 for record in old if category(record) == kind) for kind in FINISHED}
    detail = ", ".join(f"{count} {kind}" for kind, count in counts.items() if count)
    noun = "entry" if len(old) == 1 else "entries"
    return [f"  {len(old)} finished {noun} last seen more than {format_duration(after)} ago ({detail}), not listed; "
            "to remove them:",
            f"    {PROGRAM} clear --finished --account {shlex.quote(clean_text(account))}"]


def render_short(
    records: Sequence[PhantomRecord],
    *,
    account: str | None = None,
    now: datetime | None = None,
    tz: tzinfo | None = None,
    since: datetime | None = None,
    retry_after: Mapping[str, timedelta | None] | None = None,
    finished_after: timedelta = FINISHED_AFTER,
    news_for: str | None = None,
) -> str:
    """The short report. ``retry_after`` maps an account to its ``phantom_retry_after`` (None: never), for the
    line saying when skipped messages are tried again; accounts missing from it get no such line."""
    when = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    ordered = select(records, account, since)
    header = f"{report_header(when, tz, account, since, news_for)} (one line per message; --long for details)"
    if not ordered:
        return f"{header}\n\nNo phantoms recorded.\n"
    cutoff = when - finished_after
    lines = [header]
    for name, group in groupby(ordered, key=lambda record: record.key.account):
        entries = list(group)
        lines += ["", account_header(name, entries)]
        if retry_after is not None and name in retry_after:
            retry = _retry_line(entries, retry_after[name], tz)
            lines += [retry] if retry else []
        listed = [record for record in entries if not _is_old_finished(record, cutoff)]
        for folder, in_folder in groupby(listed, key=lambda record: record.key.folder):
            messages = list(in_folder)
            width = max(len(str(record.key.uid)) for record in messages)
            lines.append(f"  {clean_text(folder)} ({len(messages)})")
            lines += [_line(record, width) for record in messages]
        old = [record for record in entries if _is_old_finished(record, cutoff)]
        lines += _finished_lines(old, name, finished_after)
    return "\n".join(lines) + "\n"
