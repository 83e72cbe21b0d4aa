"""report.py: text and JSON rendering of store records, the next step, the end-of-sync summary."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from offlineimap_phantomfix.report import next_step, record_to_json, render_json, render_text, summarize
from offlineimap_phantomfix.verdicts import MessageKey, Original, PhantomRecord, Verdict

T0 = datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc)
SYNC = T0 + timedelta(days=1)
JSON_KEYS = {"account", "repository", "folder", "uidvalidity", "uid", "verdict", "skipped", "attempts",
             "first_seen", "last_seen", "server_said", "quarantine", "original"}
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
HOSTILE = "\x1b[31mred\x1b[0m \x1b]0;pwned\x07bell\x07 nul\x00 csi\x9b2J \u202etxt.exe"


def record(
    uid: int = 15541,
    verdict: Verdict = Verdict.EMPTY,
    *,
    account: str = "Work",
    folder: str = "INBOX",
    skipped: bool | None = None,
    first_seen: datetime = T0,
    last_seen: datetime | None = None,
    **changes: Any,
) -> PhantomRecord:
    return PhantomRecord(
        key=MessageKey(account, f"{account}Remote", folder, 14, uid),
        verdict=verdict,
        skipped=verdict.is_phantom if skipped is None else skipped,
        first_seen=first_seen,
        last_seen=last_seen if last_seen is not None else first_seen,
        **changes,
    )


PLACEHOLDER = record(
    7, Verdict.PLACEHOLDER, attempts=2, server_said="OK FETCH completed.",
    quarantine="/home/u/.offlineimap/phantomfix/quarantine/Work/new/1.M2P3Q4.host",
    original=Original(subject="Quarterly figures", sender='"Alice" <alice@example.org>', date="1/20/2016 3:41 PM"),
)


def strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


# --- JSON ---------------------------------------------------------------------------------------------------

def test_json_has_exactly_the_documented_keys_and_types() -> None:
    data = json.loads(render_json([PLACEHOLDER, record(9, Verdict.REFUSED)]))
    assert set(data) == {"messages"}
    for message in data["messages"]:
        assert set(message) == JSON_KEYS
        for name in ("account", "repository", "folder", "verdict", "first_seen", "last_seen", "server_said"):
            assert isinstance(message[name], str), name
        for name in ("uidvalidity", "uid", "attempts"):
            assert type(message[name]) is int, name
        assert type(message["skipped"]) is bool
        assert message["quarantine"] is None or isinstance(message["quarantine"], str)
        assert message["original"] is None or set(message["original"]) == {"subject", "from", "date"}


def test_json_values() -> None:
    assert record_to_json(PLACEHOLDER) == {
        "account": "Work",
        "repository": "WorkRemote",
        "folder": "INBOX",
        "uidvalidity": 14,
        "uid": 7,
        "verdict": "placeholder",
        "skipped": True,
        "attempts": 2,
        "first_seen": "2026-11-01T09:30:00+00:00",
        "last_seen": "2026-11-01T09:30:00+00:00",
        "server_said": "OK FETCH completed.",
        "quarantine": "/home/u/.offlineimap/phantomfix/quarantine/Work/new/1.M2P3Q4.host",
        "original": {"subject": "Quarterly figures", "from": '"Alice" <alice@example.org>',
                     "date": "1/20/2016 3:41 PM"},
    }


@pytest.mark.parametrize("original", [None, Original()])
def test_json_original_is_null_when_unknown(original: Original | None) -> None:
    message = json.loads(render_json([record(original=original)]))["messages"][0]
    assert message["original"] is None
    assert message["quarantine"] is None


def test_json_original_partly_known() -> None:
    message = record_to_json(record(original=Original(subject="Only this")))
    assert message["original"] == {"subject": "Only this", "from": None, "date": None}


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (datetime(2026, 11, 1, 9, 30, 15, 123456, tzinfo=timezone.utc), "2026-11-01T09:30:15+00:00"),
        (datetime(2026, 11, 1, 10, 30, tzinfo=timezone(timedelta(hours=1))), "2026-11-01T09:30:00+00:00"),
        (datetime(2026, 11, 1, 9, 30), "2026-11-01T09:30:00+00:00"),  # naive: taken as UTC
    ],
)
def test_json_times_are_iso_8601_with_timezone(when: datetime, expected: str) -> None:
    message = record_to_json(record(first_seen=when, last_seen=when))
    assert message["first_seen"] == message["last_seen"] == expected
    assert datetime.fromisoformat(message["first_seen"]).tzinfo is not None


def test_json_is_sorted_by_account_folder_uid_and_indented() -> None:
    records = [
        record(3, account="Work", folder="Sent"),
        record(20, account="Work", folder="INBOX"),
        record(100, account="Play", folder="INBOX"),
        record(4, account="Work", folder="INBOX"),
        record(1, account="Work", folder="Archive"),
    ]
    text = render_json(records)
    messages = json.loads(text)["messages"]
    assert [(m["account"], m["folder"], m["uid"]) for m in messages] == [
        ("Play", "INBOX", 100), ("Work", "Archive", 1), ("Work", "INBOX", 4), ("Work", "INBOX", 20),
        ("Work", "Sent", 3)]
    assert text.startswith('{\n  "messages": [\n    {\n      "account"')
    assert text.endswith("}\n")


def test_json_of_nothing() -> None:
    assert json.loads(render_json([])) == {"messages": []}


def test_json_strips_control_characters_everywhere() -> None:
    hostile = record(
        5, Verdict.REFUSED, folder=f"INBOX/{HOSTILE}", server_said=f"NO {HOSTILE}", quarantine=f"/q/{HOSTILE}",
        original=Original(subject=HOSTILE, sender=HOSTILE, date=HOSTILE), account=f"Work{HOSTILE}",
    )
    text = render_json([hostile])
    assert "\\u001b" not in text and "\\u0007" not in text and "\\u0000" not in text
    message = json.loads(text)["messages"][0]
    values = list(strings(message))
    assert values and not any(CONTROL.search(value) for value in values), values
    assert message["folder"] == "INBOX/red bell nul csi2J txt.exe"  # the lone C1 CSI byte is dropped


# --- text ---------------------------------------------------------------------------------------------------

def test_text_empty_is_friendly() -> None:
    text = render_text([], now=SYNC)
    assert text.splitlines()[0] == "offlineimap-phantomfix report, 2026-11-02 09:30 UTC"
    assert "No phantoms recorded." in text
    assert "No phantoms recorded." in render_text([record(account="Play")], account="Work", now=SYNC)


def test_text_lists_everything_of_an_entry() -> None:
    text = render_text([PLACEHOLDER], now=SYNC)
    lines = text.splitlines()
    assert lines[0].startswith("offlineimap-phantomfix report")
    assert "Account Work: 1 message, 1 skipped (1 placeholder)" in text
    for needle in ("INBOX", "UID 7", "placeholder", "[skipped]", "2 attempts", "first 2026-11-01 09:30 UTC",
                   "last 2026-11-01 09:30 UTC", "Quarterly figures", "alice@example.org", "OK FETCH completed.",
                   "/quarantine/Work/new/1.M2P3Q4.host", "next step:",
                   "offlineimap-phantomfix purge --account Work --folder INBOX --uid 7 --yes"):
        assert needle in text, needle


def test_text_groups_by_account_and_sorts() -> None:
    records = [record(9, account="Work", folder="Sent"), record(11, account="Play"), record(3, account="Work"),
               record(1, Verdict.VANISHED, account="Work")]
    text = render_text(records, now=SYNC)
    assert text.index("Account Play") < text.index("Account Work")
    work = text[text.index("Account Work"):]
    assert work.index("UID 1 ") < work.index("UID 3 ") < work.index("UID 9 ")
    assert "Account Work: 3 messages, 2 skipped (1 vanished, 2 empty)" in text


def test_text_account_filter() -> None:
    text = render_text([record(1, account="Work"), record(2, account="Play")], account="Play", now=SYNC)
    assert "for account Play" in text.splitlines()[0]
    assert "UID 2" in text and "UID 1 " not in text and "Account Work" not in text


def test_text_shortens_the_servers_words() -> None:
    text = render_text([record(server_said="NO " + "blah " * 200)], now=SYNC)
    said = next(line for line in text.splitlines() if "server said:" in line)
    assert len(said) < 200 and said.endswith("\u2026")


def test_text_marks_purged_and_retry_records() -> None:
    purged = record(1, Verdict.REFUSED, purged=True)
    retried = record(2, Verdict.EMPTY, skipped=False, attempts=2)
    text = render_text([purged, retried], now=SYNC)
    assert "UID 1  refused  [purged]" in text
    assert "UID 2  empty  [retried every sync]" in text
    assert "1 attempt " not in text or "1 attempt\n" in text  # singular


def test_text_strips_control_characters_and_escapes() -> None:
    hostile = record(
        5, Verdict.REFUSED, folder=f"INBOX/{HOSTILE}", server_said=f"NO {HOSTILE}", quarantine=f"/q/{HOSTILE}",
        original=Original(subject=HOSTILE, sender=HOSTILE, date=HOSTILE), account=f"Work{HOSTILE}",
        recovered_by=HOSTILE,
    )
    text = render_text([hostile, replace(hostile, verdict=Verdict.RECOVERED, skipped=False)],
                       account=None, now=SYNC)
    assert "\x1b" not in text and "\x07" not in text and "\x00" not in text and "\x9b" not in text
    assert not CONTROL.search(text.replace("\n", "")), text
    assert "pwned" not in text  # the OSC title payload goes with its escape


# --- next step ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("verdict", "skipped", "needles"),
    [
        (Verdict.EMPTY, True, ["probe --account Work --folder INBOX --uid 15541",
                               "clear --account Work --folder INBOX --uid 15541",
                               "purge --account Work --folder INBOX --uid 15541 --yes", "Outlook"]),
        (Verdict.REFUSED, True, ["probe --account Work", "purge --account Work"]),
        (Verdict.DROPPED, True, ["probe --account Work", "clear --account Work"]),
        (Verdict.PLACEHOLDER, True, ["Outlook", "quarantine", "purge --account Work --folder INBOX --uid 15541 --yes"]),
        (Verdict.UNPARSEABLE, True, ["quarantine", "clear --account Work --folder INBOX --uid 15541"]),
        (Verdict.RECOVERED, False, ["nothing", "recovered"]),
        (Verdict.VANISHED, False, ["nothing", "expunged"]),
        (Verdict.EMPTY, False, ["every sync", "purge"]),
    ],
)
def test_next_step_per_verdict(verdict: Verdict, skipped: bool, needles: list[str]) -> None:
    step = next_step(record(verdict=verdict, skipped=skipped, attempts=2, quarantine="/q/new/1"))
    assert "\n" not in step
    for needle in needles:
        assert needle in step, (needle, step)


@pytest.mark.parametrize("verdict", [v for v in Verdict if v.is_phantom], ids=lambda v: v.value)
@pytest.mark.parametrize("skipped", [True, False])
def test_one_failed_attempt_never_suggests_purge(verdict: Verdict, skipped: bool) -> None:
    assert "purge" not in next_step(record(verdict=verdict, skipped=skipped, attempts=1, quarantine="/q/new/1"))


@pytest.mark.parametrize("verdict", [Verdict.RECOVERED, Verdict.VANISHED])
def test_no_purge_for_what_is_not_a_current_phantom(verdict: Verdict) -> None:
    assert "purge" not in next_step(record(verdict=verdict, skipped=False, attempts=5, quarantine="/q/new/1"))


@pytest.mark.parametrize("verdict", [Verdict.PLACEHOLDER, Verdict.UNPARSEABLE])
def test_no_quarantine_item_is_not_claimed(verdict: Verdict) -> None:
    step = next_step(record(verdict=verdict, skipped=True, attempts=2, quarantine=None))
    assert "quarantine" not in step


def test_healed_record_says_the_mail_has_since_been_synced() -> None:
    healed = record(verdict=Verdict.RECOVERED, skipped=False, attempts=3, recovered_by="plain fetch after retry",
                    quarantine="/q/new/1")
    step = next_step(healed)
    assert step.startswith("nothing") and "since been synced" in step and "plain fetch after retry" in step
    assert "quarantine item is only a copy" in step


def test_next_step_recovered_names_the_step() -> None:
    assert "sequence-fetch" in next_step(record(verdict=Verdict.RECOVERED, recovered_by="sequence-fetch"))


def test_next_step_purged() -> None:
    assert next_step(record(verdict=Verdict.REFUSED, purged=True)).startswith("nothing")


def test_next_step_quotes_for_the_shell() -> None:
    step = next_step(record(account="My Mail", folder="Sent Items; rm -rf ~"))
    assert "--account 'My Mail' --folder 'Sent Items; rm -rf ~' --uid 15541" in step


# --- summary ------------------------------------------------------------------------------------------------

def test_summary_counts() -> None:
    before = SYNC - timedelta(hours=3)
    records = [
        record(1, Verdict.EMPTY, first_seen=SYNC + timedelta(minutes=1)),
        record(2, Verdict.PLACEHOLDER, first_seen=SYNC + timedelta(minutes=2)),
        record(3, Verdict.EMPTY, first_seen=SYNC + timedelta(minutes=3)),
        record(4, Verdict.REFUSED, first_seen=before),
        record(5, Verdict.DROPPED, first_seen=before),
        record(6, Verdict.REFUSED, first_seen=before, purged=True),
        record(7, Verdict.RECOVERED, first_seen=SYNC + timedelta(seconds=5)),
        record(8, Verdict.RECOVERED, first_seen=before),  # an old recovery: not this sync's news
        record(9, Verdict.VANISHED, first_seen=SYNC + timedelta(seconds=5)),
    ]
    assert summarize(records, since=SYNC) == \
        "3 new phantoms (2 empty, 1 placeholder), 2 still skipped, 1 recovered, 1 vanished"


def test_summary_singular_and_nothing() -> None:
    assert summarize([record(1, Verdict.DROPPED, first_seen=SYNC)], since=SYNC) == "1 new phantom (1 dropped)"
    assert summarize([], since=SYNC) == ""
    assert summarize([record(1, Verdict.RECOVERED, first_seen=T0)], since=SYNC) == ""


def test_summary_only_still_skipped() -> None:
    assert summarize([record(1, first_seen=T0), record(2, first_seen=T0)], since=SYNC) == "2 still skipped"


def test_summary_naive_since_is_utc() -> None:
    assert summarize([record(1, first_seen=SYNC)], since=SYNC.replace(tzinfo=None)) == "1 new phantom (1 empty)"


def test_summary_is_clean() -> None:
    assert not CONTROL.search(summarize([record(1, first_seen=SYNC, folder=HOSTILE)], since=SYNC))
