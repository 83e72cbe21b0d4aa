"""Quarantine items in a mail reader: the lost subject, the server's exact bytes, items found again after a
``clear``, and recorded paths that follow a reader moving files from new/ to cur/."""

from __future__ import annotations

import email
import email.policy
import mailbox
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

from offlineimap_phantomfix.notice import build_notice, known_original
from offlineimap_phantomfix.quarantine import GONE_NOTE, Quarantine, resolve, resolve_records
from offlineimap_phantomfix.store import PhantomStore
from offlineimap_phantomfix.verdicts import Evidence, MessageKey, Original, PhantomRecord, Verdict

KEY = MessageKey("Work", "WorkRemote", "INBOX", 14, 15541)
FIRST = datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc)
NOTICE = (b"From: Microsoft Exchange <postmaster@example.org>\r\n"
          b"Subject: Retrieval using the IMAP4 protocol failed for the following message: 520\r\n\r\n"
          b"Subject: Quarterly budget review\r\nFrom: Alice\r\n")


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_placeholder_item_keeps_the_servers_bytes_exactly_and_names_the_lost_mail() -> None:
    raw = build_notice(KEY, Verdict.PLACEHOLDER, Evidence(), original=Original(subject="Quarterly budget review"),
                       now=FIRST, server_message=NOTICE)
    assert b"\r" not in raw
    message = parse(raw)
    assert message["Subject"] == "[phantom] Quarterly budget review (INBOX UID 15541, placeholder)"
    assert message["Date"].datetime == FIRST
    attached = [part for part in message.iter_attachments() if part.get_filename() == "server-notice.eml"]
    assert len(attached) == 1
    assert attached[0].get_content_type() == "application/octet-stream"
    assert attached[0].get_payload(decode=True) == NOTICE  # CRLF and all
    body = message.get_body(("plain",))
    assert body is not None and "server-notice.eml" in body.get_content()


def test_unparseable_item_names_the_subject_of_the_data_it_keeps() -> None:
    data = b"Subject: Invoice 42\r\nFrom: Bob <bob@example.org>\r\nContent-Type: multipart/mixed\r\n\r\n\x00\xff"
    message = parse(build_notice(KEY, Verdict.UNPARSEABLE, Evidence(), now=FIRST, server_message=data))
    assert message["Subject"] == "[phantom] Invoice 42 (INBOX UID 15541, unparseable)"
    attached = [part for part in message.iter_attachments() if part.get_filename() == "server-message.eml"]
    assert attached[0].get_payload(decode=True) == data


def test_lost_subject_comes_from_the_delivered_header_but_never_from_a_notices_own_header() -> None:
    header = b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nFrom: Carol <carol@example.org>\r\n\r\n"
    found = known_original(Verdict.EMPTY, Evidence(header=header), None)
    assert found == Original(subject="Grüße", sender="Carol <carol@example.org>", date=None)
    assert known_original(Verdict.PLACEHOLDER, Evidence(header=NOTICE), None) is None
    assert known_original(Verdict.EMPTY, Evidence(), Original()) is None
    given = Original(subject="From the notice")
    assert known_original(Verdict.EMPTY, Evidence(header=header), given) is given


def deliver(quarantine: Quarantine, key: MessageKey, now: datetime = FIRST) -> Path:
    return quarantine.deliver(key.account, build_notice(key, Verdict.EMPTY, Evidence(), now=now), key)


def test_find_returns_the_item_of_that_message_only_wherever_a_reader_moved_it(tmp_path: Path) -> None:
    quarantine = Quarantine(tmp_path / "q")
    assert quarantine.find(KEY) is None  # no Maildir yet
    other_folder = replace(KEY, folder="Sent")
    other_validity = replace(KEY, uidvalidity=15)
    deliver(quarantine, other_folder)
    deliver(quarantine, other_validity)
    path = deliver(quarantine, KEY)
    assert "U15541V14." in path.name
    kept = quarantine.find(KEY)
    assert kept is not None and kept.path == path and kept.first_seen == FIRST

    moved = path.parent.parent / "cur" / (path.name + ":2,S")
    path.rename(moved)
    kept = quarantine.find(KEY)
    assert kept is not None and kept.path == moved
    moved.unlink()
    assert quarantine.find(KEY) is None
    assert quarantine.find(replace(KEY, uid=1)) is None


def test_resolve_follows_the_unique_name_from_new_to_cur(tmp_path: Path) -> None:
    path = deliver(Quarantine(tmp_path / "q"), KEY)
    assert resolve(str(path)) == path
    seen = path.parent.parent / "cur" / (path.name + ":2,S")
    path.rename(seen)
    assert resolve(str(path)) == seen
    flagged = seen.with_name(path.name + ":2,FS")
    seen.rename(flagged)
    assert resolve(str(seen)) == flagged  # a path recorded after the first move still resolves
    assert resolve(str(path.parent.parent / "cur" / "1.M1P1Q1.other:2,S")) is None
    flagged.unlink()
    assert resolve(str(path)) is None


def test_resolve_records_rewrites_moved_paths_and_marks_gone_ones(tmp_path: Path) -> None:
    quarantine = Quarantine(tmp_path / "q")
    moved_from = deliver(quarantine, KEY)
    gone = deliver(quarantine, replace(KEY, uid=2))
    moved_to = moved_from.parent.parent / "cur" / (moved_from.name + ":2,S")
    moved_from.rename(moved_to)
    gone.unlink()

    def record(uid: int, path: Path | None) -> PhantomRecord:
        return PhantomRecord(replace(KEY, uid=uid), Verdict.EMPTY, True, FIRST, FIRST,
                             quarantine=str(path) if path else None)

    records = [record(15541, moved_from), record(2, gone), record(3, None)]
    assert [r.quarantine for r in resolve_records(records)] == [str(moved_to), None, None]
    shown = resolve_records(records, gone=GONE_NOTE)
    assert [r.quarantine for r in shown] == [str(moved_to), f"{gone}{GONE_NOTE}", None]
    assert records[0].quarantine == str(moved_from)  # the input is left as it was


def test_store_takes_an_earlier_first_seen_for_a_new_row_only(tmp_path: Path) -> None:
    now = FIRST + timedelta(days=3)
    with PhantomStore(tmp_path / "state") as store:
        first = store.record(KEY, Verdict.EMPTY, skipped=True, now=now, first_seen=FIRST)
        assert first.first_seen == FIRST and first.last_seen == now
        later = store.record(KEY, Verdict.EMPTY, skipped=True, now=now + timedelta(hours=1),
                             first_seen=FIRST - timedelta(days=9))
        assert later.first_seen == FIRST  # an existing row keeps its own
        other = replace(KEY, uid=1)
        assert store.record(other, Verdict.EMPTY, skipped=True, now=now,
                            first_seen=now + timedelta(days=1)).first_seen == now  # never in the future


def test_maildir_reader_sees_subjects_and_dates_of_every_item(tmp_path: Path) -> None:
    quarantine = Quarantine(tmp_path / "q")
    deliver(quarantine, KEY)
    quarantine.deliver("Work", build_notice(replace(KEY, uid=7), Verdict.PLACEHOLDER, Evidence(),
                                            original=Original(subject="Quarterly budget review"), now=FIRST,
                                            server_message=NOTICE), replace(KEY, uid=7))
    box = mailbox.Maildir(str(tmp_path / "q" / "Work"), factory=None, create=False)
    assert sorted(str(message["Subject"]) for message in box) == [
        "[phantom] Quarterly budget review (INBOX UID 7, placeholder)",
        "[phantom] unknown subject (INBOX UID 15541, empty)",
    ]
    assert all(message["Date"] for message in box)
