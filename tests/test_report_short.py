"""report_short.py and the end-of-sync line: the short report's shape and size, and what a sync says."""

from __future__ import annotations

import re
import shlex
from datetime import datetime, timedelta, timezone

import pytest

from offlineimap_phantomfix import cli
from offlineimap_phantomfix.report import sync_line
from offlineimap_phantomfix.report_short import WIDTH, render_short, short_step
from offlineimap_phantomfix.verdicts import MessageKey, Original, PhantomRecord, Verdict

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=timezone.utc)
PLUS_ONE = timezone(timedelta(hours=1))
PHANTOMS = [Verdict.EMPTY, Verdict.PLACEHOLDER, Verdict.REFUSED, Verdict.DROPPED, Verdict.UNPARSEABLE]
FOLDERS = ["INBOX", "Sent Items", "Archive/2019", "Projects/Budget"]


def record(uid: int, verdict: Verdict = Verdict.EMPTY, *, account: str = "Work", folder: str = "INBOX",
           seen: datetime = NOW, skipped: bool | None = None, attempts: int = 2, subject: str | None = None,
           **changes: object) -> PhantomRecord:
    return PhantomRecord(
        key=MessageKey(account, f"{account}Remote", folder, 14, uid), verdict=verdict,
        skipped=verdict.is_phantom if skipped is None else skipped, first_seen=seen - timedelta(days=1),
        last_seen=seen, attempts=attempts, original=Original(subject=subject) if subject else None,
        **changes,  # type: ignore[arg-type]
    )


def mailbox_of_200() -> list[PhantomRecord]:
    """200 records as a long-suffering Exchange mailbox has them: every verdict and state, two accounts, four
    folders, long subjects, five-digit UIDs, finished entries old and recent."""
    records = []
    for number in range(200):
        account = "Work" if number < 170 else "Home"
        verdict = PHANTOMS[number % 5] if number % 10 else [Verdict.RECOVERED, Verdict.VANISHED][number % 20 // 10]
        records.append(record(
            15000 + number * 37, verdict, account=account, folder=FOLDERS[number % 4],
            seen=NOW - timedelta(days=number % 15, hours=number % 24), attempts=1 + number % 3,
            skipped=verdict.is_phantom and number % 9 != 0,
            subject=f"Re: Quarterly figures for region {number}, with the long tail a subject has" if number % 2
            else None, quarantine="/q/new/1" if number % 3 else None, purged=number == 55,
            recovered_by="plain fetch after retry" if verdict is Verdict.RECOVERED else None,
        ))
    return records


def test_200_phantoms_fit_in_220_lines_of_at_most_120_columns() -> None:
    records = mailbox_of_200()
    text = render_short(records, now=NOW, tz=PLUS_ONE,
                        retry_after={"Work": timedelta(days=7), "Home": None})
    lines = text.splitlines()
    assert len(lines) <= 220, len(lines)
    assert max(len(line) for line in lines) <= WIDTH
    listed = [line for line in lines if line.startswith("    UID ")]
    week_ago = NOW - timedelta(days=7)
    finished_old = [r for r in records if (r.purged or not r.verdict.is_phantom) and r.last_seen < week_ago]
    assert finished_old, "the sample must have finished entries old enough to be summarised"
    assert len(listed) == len(records) - len(finished_old)  # one line per message listed, none twice
    assert len({line.split()[1] for line in listed}) == len(listed)
    for line in listed:  # at most one next step, and a command is whole
        assert line.count("offlineimap-phantomfix") <= 1 and ";" not in line, line
    counted = sum(int(m.group(1)) for m in re.finditer(r"^  (\d+) finished entr", text, re.MULTILINE))
    assert counted == len(finished_old)


def test_short_form_groups_by_account_and_folder_and_says_what_it_counts() -> None:
    text = render_short([record(7, folder="Sent Items"), record(9), record(11, account="Home"),
                         record(3, Verdict.RECOVERED, skipped=False, recovered_by="sequence-fetch")],
                        now=NOW, tz=PLUS_ONE, retry_after={"Work": timedelta(days=7)})
    lines = text.splitlines()
    assert lines[0] == ("offlineimap-phantomfix report, 2026-12-01 21:00 +01:00 "
                        "(one line per message; --long for details)")
    assert lines.index("Account Home, 1 undelivered message: 1 skipped") < \
        lines.index("Account Work, 3 undelivered messages: 2 skipped, 1 recovered")
    assert "  skipped messages are fetched again 7d after their last try; the next at 2026-12-08 21:00 +01:00" in lines
    work = lines[lines.index("  INBOX (2)"):]
    assert work[1].startswith("    UID 3  recovered") and work[1].endswith("synced (sequence-fetch)")
    assert work[2].startswith("    UID 9  empty        skipped")
    assert "  Sent Items (1)" in lines
    assert sum("next at" in line for line in lines) == 1  # Home has no retry_after given: no such line


def test_short_next_step_is_one_whole_command_or_a_few_words() -> None:
    step = short_step(record(15541, Verdict.REFUSED, folder="Sent Items"))
    words = shlex.split(step)
    assert words[0] == "offlineimap-phantomfix"
    assert cli.build_parser().parse_args(words[1:]).folder == "Sent Items"  # pastes as it is
    assert short_step(record(1, Verdict.PLACEHOLDER)) == "read it in Outlook or webmail"
    assert short_step(record(1, Verdict.REFUSED, skipped=False, attempts=1)) == "tried again on the next sync"
    assert short_step(record(1, Verdict.REFUSED, purged=True)) == "deleted on the server"
    assert short_step(record(1, Verdict.VANISHED)) == "expunged on the server"


def test_subject_is_shown_when_there_is_room_and_cut_to_fit() -> None:
    long_subject = "Budget " * 40
    text = render_short([record(7, Verdict.PLACEHOLDER, subject=long_subject),
                         record(8, Verdict.EMPTY, subject="Short")], now=NOW, tz=timezone.utc)
    (placeholder,) = [line for line in text.splitlines() if "UID 7" in line]
    assert '"Budget Budget' in placeholder and "\u2026" in placeholder and len(placeholder) <= WIDTH
    (empty,) = [line for line in text.splitlines() if "UID 8" in line]
    assert "probe --account Work --folder INBOX --uid 8" in empty and len(empty) <= WIDTH


def test_finished_entries_are_listed_for_a_while_then_counted() -> None:
    fresh = record(1, Verdict.RECOVERED, skipped=False, seen=NOW - timedelta(days=2))
    old = [record(2, Verdict.VANISHED, seen=NOW - timedelta(days=9)),
           record(3, Verdict.REFUSED, seen=NOW - timedelta(days=30), purged=True)]
    live_but_old = record(4, Verdict.EMPTY, seen=NOW - timedelta(days=30))
    text = render_short([fresh, *old, live_but_old], now=NOW, tz=timezone.utc)
    assert "UID 1 " in text and "UID 4 " in text and "UID 2 " not in text and "UID 3 " not in text
    assert "  2 finished entries last seen more than 7d ago (1 vanished, 1 purged), not listed; to remove them:" in text
    assert "    offlineimap-phantomfix clear --finished --account Work" in text.splitlines()


def test_since_keeps_what_was_seen_in_that_time() -> None:
    text = render_short([record(1, seen=NOW - timedelta(hours=1)), record(2, seen=NOW - timedelta(days=3))],
                        now=NOW, tz=timezone.utc, since=NOW - timedelta(days=1))
    assert "UID 1 " in text and "UID 2 " not in text
    assert "messages seen since 2026-11-30 20:00" in text.splitlines()[0]


def test_nothing_recorded() -> None:
    assert "No phantoms recorded." in render_short([], now=NOW, tz=timezone.utc)


# --- the end-of-sync line -----------------------------------------------------------------------------------

SYNC = NOW - timedelta(minutes=1)


def test_sync_line_with_news_names_the_next_retry_and_the_report_command() -> None:
    old = record(1, seen=NOW - timedelta(days=2))
    new = PhantomRecord(key=MessageKey("My Work", "R", "INBOX", 1, 9), verdict=Verdict.EMPTY, skipped=True,
                        first_seen=NOW, last_seen=NOW)
    line, news = sync_line([old, new], since=SYNC, account="My Work", retry_after=timedelta(days=7), tz=PLUS_ONE)
    assert news
    assert line == ("1 new phantom (1 empty), 1 still skipped; next retry 2026-12-06 21:00 +01:00; "
                    "list: offlineimap-phantomfix report --account 'My Work'")


@pytest.mark.parametrize("verdict", [Verdict.RECOVERED, Verdict.VANISHED])
def test_a_recovery_or_a_vanished_message_is_news(verdict: Verdict) -> None:
    seen = record(1, verdict, skipped=False, seen=NOW)
    assert sync_line([seen], since=SYNC, account="Work", retry_after=timedelta(days=7))[1]


def test_still_skipped_alone_is_not_news_and_says_until_when() -> None:
    line, news = sync_line([record(1, seen=NOW - timedelta(days=2))], since=SYNC, account="Work",
                           retry_after=None)
    assert not news
    assert line.startswith("1 still skipped; skipped until cleared (phantom_retry_after = 0); list: ")


def test_nothing_to_say() -> None:
    assert sync_line([], since=SYNC, account="Work", retry_after=timedelta(days=7)) == ("", False)
