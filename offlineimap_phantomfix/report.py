"""Pure: render store records as text for people, JSON for programs, and a one-line end-of-sync summary.

Everything that may come from a server (folder names, the server's words, the original subject and sender)
goes through :func:`~offlineimap_phantomfix.sanitize.clean_text` here, so no control character or escape
sequence reaches a terminal, a log or a ``jq -r`` pipeline. Times are shown in UTC; a naive ``datetime`` is
taken to be UTC.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from datetime import datetime, timezone
from itertools import groupby

from offlineimap_phantomfix.sanitize import clean_text
from offlineimap_phantomfix.verdicts import PhantomRecord, Verdict

__all__ = ["next_step", "record_to_json", "render_json", "render_text", "summarize"]

PROGRAM = "offlineimap-phantomfix"
_SAID_LIMIT = 160  # characters of the server's words in the text report
_FIELD_LIMIT = 200


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _iso(value: datetime) -> str:
    return _utc(value).isoformat(timespec="seconds")


def _short_time(value: datetime) -> str:
    return _utc(value).strftime("%Y-%m-%d %H:%M UTC")


def _sort_key(record: PhantomRecord) -> tuple[str, str, int, str, int]:
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
    }


def render_json(records: Sequence[PhantomRecord]) -> str:
    """``{"messages": [...]}``, sorted by account, folder, UID; indent 2; ends with a newline."""
    messages = [record_to_json(record) for record in sorted(records, key=_sort_key)]
    return json.dumps({"messages": messages}, indent=2, ensure_ascii=False) + "\n"


# --- next step --------------------------------------------------------------------------------------------

def _where(record: PhantomRecord) -> str:
    key = record.key
    return (f"--account {shlex.quote(clean_text(key.account))} --folder {shlex.quote(clean_text(key.folder))} "
            f"--uid {key.uid}")


def next_step(record: PhantomRecord) -> str:
    """What the user can do about this record, as one line (a command where there is one).

    ``purge`` is suggested only for a current phantom that more than one sync found (a verdict resting on one
    attempt may be a passing failure), and ``purge`` itself checks again before it deletes anything.
    """
    verdict = record.verdict
    where = _where(record)
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


# --- text -------------------------------------------------------------------------------------------------

def _state(record: PhantomRecord) -> str:
    if record.purged:
        return "purged"
    if record.skipped:
        return "skipped"
    if record.verdict.is_phantom:
        return "retried every sync" if record.confirmed else "retried on the next sync"
    return "done"


def _entry(record: PhantomRecord) -> list[str]:
    key = record.key
    plural = "s" if record.attempts != 1 else ""
    lines = [
        f"  {clean_text(key.folder, limit=_FIELD_LIMIT)}  UID {key.uid}  {record.verdict.value}  "
        f"[{_state(record)}]  {record.attempts} attempt{plural}",
        f"      seen:        first {_short_time(record.first_seen)}, last {_short_time(record.last_seen)}"
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


def render_text(records: Sequence[PhantomRecord], *, account: str | None = None, now: datetime | None = None) -> str:
    """A report for people: a header line, then one block per account with an entry per message."""
    when = _utc(now) if now is not None else datetime.now(timezone.utc)
    shown = [record for record in records if account is None or record.key.account == account]
    scope = f" for account {clean_text(account)}" if account is not None else ""
    header = f"offlineimap-phantomfix report{scope}, {when:%Y-%m-%d %H:%M} UTC"
    if not shown:
        return f"{header}\n\nNo phantoms recorded.\n"
    lines = [header]
    ordered = sorted(shown, key=_sort_key)
    for name, group in groupby(ordered, key=lambda record: record.key.account):
        entries = list(group)
        lines += ["", f"Account {clean_text(name)}: {_counts(entries)}"]
        for record in entries:
            lines += _entry(record)
    return "\n".join(lines) + "\n"


def _counts(records: Sequence[PhantomRecord]) -> str:
    total = len(records)
    skipped = sum(1 for record in records if record.skipped and not record.purged)
    by_verdict = _by_verdict(records)
    parts = f"{total} message{'s' if total != 1 else ''}, {skipped} skipped"
    return f"{parts} ({by_verdict})" if by_verdict else parts


def _by_verdict(records: Sequence[PhantomRecord]) -> str:
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
        parts.append(f"{len(new)} new phantom{'s' if len(new) != 1 else ''} ({_by_verdict(new)})")
    if still:
        parts.append(f"{len(still)} still skipped")
    if recovered:
        parts.append(f"{len(recovered)} recovered")
    if vanished:
        parts.append(f"{len(vanished)} vanished")
    return ", ".join(parts)
