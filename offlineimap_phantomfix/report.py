"""Pure: render store records as text for people, JSON for programs, and a one-line end-of-sync summary.

Everything that may come from a server (folder names, the server's words, the original subject and sender)
goes through :func:`~offlineimap_phantomfix.sanitize.clean_text` here, so no control character or escape
sequence reaches a terminal, a log or a ``jq -r`` pipeline. Text shows times in local time with the offset
(or in the zone given as ``tz``), JSON in UTC; a naive ``datetime`` is taken to be UTC. The short form is in
:mod:`report_short`.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from itertools import groupby

from offlineimap_phantomfix.sanitize import clean_text
from offlineimap_phantomfix.verdicts import PhantomRecord, Verdict

__all__ = ["local_time", "next_step", "record_to_json", "render_json", "render_text", "sort_key", "summarize",
           "sync_line", "where_args"]

PROGRAM = "offlineimap-phantomfix"
_SAID_LIMIT = 160  # characters of the server's words in the text report
_FIELD_LIMIT = 200


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _iso(value: datetime) -> str:
    return _utc(value).isoformat(timespec="seconds")


def local_time(value: datetime, tz: tzinfo | None = None) -> str:
    """``2026-12-01 21:03`` in ``tz`` (None: the local zone)."""
    return _utc(value).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def zone_label(now: datetime, tz: tzinfo | None = None) -> str:
    """``UTC``, or the offset of ``tz`` (None: the local zone) at ``now``: ``+01:00``."""
    offset = _utc(now).astimezone(tz).utcoffset()
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def sort_key(record: PhantomRecord) -> tuple[str, str, int, str, int]:
    key = record.key
    return (key.account, key.folder, key.uid, key.repository, key.uidvalidity)


def _optional(value: str | None, limit: int = 0) -> str | None:
    if value is None:
        return None
    return clean_text(value, limit=limit)


# --- JSON -------------------------------------------------------------------------------------------------

def record_to_json(record: PhantomRecord) -> dict[str, object]:
    """One record as the documented JSON object (exactly these keys, server text cleaned, ISO 8601 times)."""
    key = record.key
    original: dict[str, str | None] | None = None
    if record.original is not None and not record.original.is_empty():
        original = {
            "subject": _optional(record.original.subject),
            "from": _optional(record.original.sender),
            "date": _optional(record.original.date),
        }
    return {
        "account": clean_text(key.account),
        "repository": clean_text(key.repository),
        "folder": clean_text(key.folder),
        "uidvalidity": int(key.uidvalidity),
        "uid": int(key.uid),
        "verdict": record.verdict.value,
        "skipped": bool(record.skipped),
        "attempts": int(record.attempts),
        "first_seen": _iso(record.first_seen),
        "last_seen": _iso(record.last_seen),
        "server_said": clean_text(record.server_said or ""),
        "quarantine": _optional(record.quarantine),
        "original": original,
        "purged": bool(record.purged),
        "recovered_by": _optional(record.recovered_by),
        "state": _state(record),
        "next_step": next_step(record),
        "size": None if record.size is None else int(record.size),
        "flags": _optional(record.flags),
    }


def render_json(records: Sequence[PhantomRecord]) -> str:
    """``{"messages": [...]}``, sorted by account, folder, UID; indent 2; ends with a newline."""
    messages = [record_to_json(record) for record in sorted(records, key=sort_key)]
    return json.dumps({"messages": messages}, indent=2, ensure_ascii=False) + "\n"


# --- next step --------------------------------------------------------------------------------------------

def where_args(record: PhantomRecord) -> str:
    """``--account A --folder F --uid N``, quoted for the shell."""
    key = record.key
    return (f"--account {shlex.quote(clean_text(key.account))} --folder {shlex.quote(clean_text(key.folder))} "
            f"--uid {key.uid}")


def next_step(record: PhantomRecord) -> str:
    """What the user can do about this record, as one line (a command where there is one).

    ``purge`` is suggested only for a current phantom that more than one sync found (a verdict resting on one
    attempt may be a passing failure), and ``purge`` itself checks again before it deletes anything.
    """
    verdict = record.verdict
    where = where_args(record)
    if record.purged:
        return "nothing: it was deleted on the server"
    if verdict is Verdict.RECOVERED:
        how = f" ({clean_text(record.recovered_by)})" if record.recovered_by else ""
        kept = "; the quarantine item is only a copy kept from before" if record.quarantine else ""
        return f"nothing: recovered{how}; the mail has since been synced normally{kept}"
    if verdict is Verdict.VANISHED:
        return "nothing: the message was expunged on the server"
    purge = (f"; once you have the mail, delete it on the server (checked first): {PROGRAM} purge {where} --yes"
             if record.confirmed else "")
    if not record.skipped:
        if not record.confirmed:
            return (f"tried again on the next sync (one failed attempt so far may be passing); to see what the "
                    f"server says: {PROGRAM} probe {where}")
        return f"fetched again on every sync (phantom_action = retry){purge}"
    if verdict is Verdict.PLACEHOLDER:
        notice = " (the server's notice is in the quarantine)" if record.quarantine else ""
        return f"read the original in Outlook or webmail{notice}{purge}"
    if verdict is Verdict.UNPARSEABLE:
        raw = "open the raw copy in the quarantine; " if record.quarantine else ""
        return f"{raw}after an offlineimap upgrade, fetch it again: {PROGRAM} clear {where}"
    # empty, refused, dropped
    return (f"see what the server says: {PROGRAM} probe {where}; it may still be readable in Outlook or "
            f"webmail; to retry: {PROGRAM} clear {where}{purge}")


# --- text (--long) ---------------------------------------------------------------------------------------

def category(record: PhantomRecord) -> str:
    """Where a record stands, one word each: purged, recovered, vanished, skipped or retried."""
    if record.purged:
        return "purged"
    if not record.verdict.is_phantom:
        return record.verdict.value
    return "skipped" if record.skipped else "retried"


FINISHED = ("recovered", "vanished", "purged")
CATEGORY_WORDS = {"skipped": "skipped", "retried": "to retry", "recovered": "recovered", "vanished": "vanished",
                  "purged": "purged"}


def account_header(name: str, records: Sequence[PhantomRecord]) -> str:
    """``Account Work, 206 undelivered messages: 162 skipped, 30 recovered, ...``: what the numbers count."""
    counts: dict[str, int] = {}
    for record in records:
        counts[category(record)] = counts.get(category(record), 0) + 1
    parts = ", ".join(f"{counts[name]} {word}" for name, word in CATEGORY_WORDS.items() if name in counts)
    total = len(records)
    return f"Account {clean_text(name)}, {total} undelivered message{'s' if total != 1 else ''}: {parts}"


def report_header(now: datetime, tz: tzinfo | None, account: str | None, since: datetime | None = None,
                  news_for: str | None = None) -> str:
    """The first line: what, for whom, when, in which time zone (since when, with ``--since``; for whom it is
    news, with ``--new``)."""
    scope = f" for account {clean_text(account)}" if account is not None else ""
    window = f", messages seen since {local_time(since, tz)}" if since is not None else ""
    news = f", news for {clean_text(news_for)}" if news_for is not None else ""
    return f"offlineimap-phantomfix report{scope}, {local_time(now, tz)} {zone_label(now, tz)}{window}{news}"


def select(records: Sequence[PhantomRecord], account: str | None, since: datetime | None) -> list[PhantomRecord]:
    """The records of ``account`` (None: all) last seen at or after ``since`` (None: any time), sorted."""
    start = _utc(since) if since is not None else None
    return sorted((r for r in records if (account is None or r.key.account == account)
                   and (start is None or _utc(r.last_seen) >= start)), key=sort_key)


def _state(record: PhantomRecord) -> str:
    if record.purged:
        return "purged"
    if record.skipped:
        return "skipped"
    if record.verdict.is_phantom:
        return "retried every sync" if record.confirmed else "retried on the next sync"
    return "done"


def _entry(record: PhantomRecord, tz: tzinfo | None) -> list[str]:
    key = record.key
    plural = "s" if record.attempts != 1 else ""
    lines = [
        f"  {clean_text(key.folder, limit=_FIELD_LIMIT)}  UID {key.uid}  {record.verdict.value}  "
        f"[{_state(record)}]  {record.attempts} attempt{plural}",
        f"      seen:        first {local_time(record.first_seen, tz)}, last {local_time(record.last_seen, tz)}"
        f" (UIDVALIDITY {key.uidvalidity}, repository {clean_text(key.repository)})",
    ]
    original = record.original
    if original is not None and not original.is_empty():
        if original.subject:
            lines.append(f"      subject:     {clean_text(original.subject, limit=_FIELD_LIMIT)}")
        if original.sender:
            lines.append(f"      from:        {clean_text(original.sender, limit=_FIELD_LIMIT)}")
        if original.date:
            lines.append(f"      sent:        {clean_text(original.date, limit=_FIELD_LIMIT)}")
    said = clean_text(record.server_said or "", limit=_SAID_LIMIT)
    if said:
        lines.append(f"      server said: {said}")
    if record.recovered_by and record.verdict is Verdict.RECOVERED:
        lines.append(f"      recovered by: {clean_text(record.recovered_by)}")
    if record.quarantine:
        lines.append(f"      quarantine:  {clean_text(record.quarantine)}")
    lines.append(f"      next step:   {next_step(record)}")
    return lines


def render_text(records: Sequence[PhantomRecord], *, account: str | None = None, now: datetime | None = None,
                tz: tzinfo | None = None, since: datetime | None = None, news_for: str | None = None) -> str:
    """The long report: a header line, then one block per account with every detail of each message.
    Times are in ``tz`` (None: the local zone), the header names the offset."""
    when = _utc(now) if now is not None else datetime.now(timezone.utc)
    ordered = select(records, account, since)
    header = report_header(when, tz, account, since, news_for)
    if not ordered:
        return f"{header}\n\nNo phantoms recorded.\n"
    lines = [header]
    for name, group in groupby(ordered, key=lambda record: record.key.account):
        entries = list(group)
        lines += ["", account_header(name, entries)]
        for record in entries:
            lines += _entry(record, tz)
    return "\n".join(lines) + "\n"


def by_verdict(records: Sequence[PhantomRecord]) -> str:
    counts: dict[str, int] = {}
    for record in records:
        counts[record.verdict.value] = counts.get(record.verdict.value, 0) + 1
    order = [verdict.value for verdict in Verdict]
    return ", ".join(f"{counts[name]} {name}" for name in order if name in counts)


# --- end-of-sync summary ----------------------------------------------------------------------------------

def summarize(records: Sequence[PhantomRecord], *, since: datetime) -> str:
    """One line for the end of an account's sync: ``"2 new phantoms (1 empty, 1 placeholder), 3 still skipped,
    1 recovered"``. "New" and "recovered" count what this sync saw (``last_seen`` >= ``since``; "new" also needs
    ``first_seen`` >= ``since``). Empty when there is nothing to say."""
    start = _utc(since)
    live = [record for record in records if not record.purged]
    new = [r for r in live if r.verdict.is_phantom and _utc(r.first_seen) >= start]
    still = [r for r in live if r.verdict.is_phantom and r.skipped and _utc(r.first_seen) < start]
    recovered = [r for r in live if r.verdict is Verdict.RECOVERED and _utc(r.last_seen) >= start]
    vanished = [r for r in live if r.verdict is Verdict.VANISHED and _utc(r.last_seen) >= start]
    parts: list[str] = []
    if new:
        parts.append(f"{len(new)} new phantom{'s' if len(new) != 1 else ''} ({by_verdict(new)})")
    if still:
        parts.append(f"{len(still)} still skipped")
    if recovered:
        parts.append(f"{len(recovered)} recovered")
    if vanished:
        parts.append(f"{len(vanished)} vanished")
    return ", ".join(parts)


def next_retry(records: Sequence[PhantomRecord], retry_after: timedelta | None) -> datetime | None:
    """When the first skipped phantom among ``records`` is fetched again (None: nothing skipped, or never)."""
    skipped = [_utc(r.last_seen) for r in records if r.skipped and not r.purged and r.verdict.is_phantom]
    if retry_after is None or not skipped:
        return None
    try:
        return min(skipped) + retry_after
    except OverflowError:
        return None


def sync_line(records: Sequence[PhantomRecord], *, since: datetime, account: str, retry_after: timedelta | None,
              tz: tzinfo | None = None) -> tuple[str, bool]:
    """The end-of-sync line and whether it is news (this sync found a new phantom, a recovery or a vanished
    message): ``2 new phantoms (2 empty), 3 still skipped; next retry 2026-12-08 21:03 +01:00; list:
    offlineimap-phantomfix report --account Work``. ``("", False)`` when there is nothing to say."""
    counts = summarize(records, since=since)
    if not counts:
        return "", False
    start = _utc(since)
    news = any(_utc(r.last_seen) >= start and ((r.verdict.is_phantom and _utc(r.first_seen) >= start)
                                               or not r.verdict.is_phantom) and not r.purged for r in records)
    parts = [counts]
    if any(r.skipped and not r.purged and r.verdict.is_phantom for r in records):
        due = next_retry(records, retry_after)
        parts.append("skipped until cleared (phantom_retry_after = 0)" if retry_after is None else
                     f"next retry {local_time(due, tz)} {zone_label(due, tz)}" if due is not None else "")
    parts.append(f"list: {PROGRAM} report --account {shlex.quote(clean_text(account))}")
    return "; ".join(part for part in parts if part), news
