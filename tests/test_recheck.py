"""recheck.py: the set fetches of due phantoms, read and judged against each record's verdict."""

from __future__ import annotations

from collections.abc import Sequence

from offlineimap_phantomfix.recheck import HOW_SEQUENCE, judge, read_by_sequence, read_by_uid, uid_set
from offlineimap_phantomfix.verdicts import Verdict

REAL = b"From: Alice <alice@example.org>\r\nSubject: Figures\r\n\r\nThe figures.\r\n"
SUBSTITUTE = (
    b"From: Microsoft Exchange Server 2010\r\n"
    b"Subject: Retrieval using the IMAP4 protocol failed for the following message:\r\n 12\r\n"
    b"Content-Type: text/plain; charset=\"us-ascii\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"The server couldn't retrieve the following message:\r\n\r\nSubject: \"Figures\"\r\n"
    b"From: \"Alice Example\" <alice@example.org>\r\nSent date: 1/20/2016 3:41:07 PM\r\n\r\n"
    b"The message hasn't been deleted. You might be able to view it using either Outlook or Outlook Web A=\r\n"
    b"pp. You can also try contacting the original sender to find out what the message was about.\r\n\r\n"
    b"Thank you.\r\n"
)


def accept(raw: bytes) -> bool:
    return raw.startswith(b"From:")


def fetched(msn: int, uid: int, content: bytes, name: bytes = b"BODY[]") -> list[object]:
    return [(b"%d (UID %d %s {%d}" % (msn, uid, name, len(content)), content), b")"]


def data(*parts: list[object]) -> Sequence[object]:
    return [item for part in parts for item in part]


def test_uid_set_is_compact() -> None:
    assert uid_set([10, 1, 2, 3, 7, 9]) == "1:3,7,9:10"
    assert uid_set([5]) == "5" and uid_set([]) == ""


def test_read_by_uid_tells_delivered_substitute_silent_and_nil() -> None:
    answers = read_by_uid("OK", data(fetched(1, 11, REAL, b"BODY[]"), fetched(2, 12, SUBSTITUTE),
                                     [b"4 (UID 14 BODY[] NIL)"]), [11, 12, 13, 14], accept)
    assert answers == {11: REAL, 12: Verdict.PLACEHOLDER, 13: Verdict.EMPTY, 14: None}
    assert read_by_uid("NO", [b"refused"], [11, 12], accept) == {11: None, 12: None}


def test_read_by_sequence_never_takes_another_uid_at_the_number() -> None:
    answers = read_by_sequence("OK", data(fetched(3, 13, REAL), fetched(4, 99, REAL), [b"6 (UID 16 BODY[] NIL)"]),
                               {3: 13, 4: 14, 5: 15, 6: 16}, accept)
    assert answers == {13: REAL, 14: Verdict.EMPTY, 15: Verdict.EMPTY, 16: None}
    assert read_by_sequence("BAD", [b"no"], {3: 13}, accept) == {13: None}


def test_judge_heals_the_delivered_and_keeps_only_the_unchanged() -> None:
    verdicts = {11: Verdict.EMPTY, 12: Verdict.PLACEHOLDER, 13: Verdict.EMPTY, 14: Verdict.EMPTY,
                15: Verdict.PLACEHOLDER, 16: Verdict.EMPTY}
    plain = {11: REAL, 12: Verdict.EMPTY, 13: Verdict.EMPTY, 14: Verdict.EMPTY, 15: Verdict.EMPTY,
             16: Verdict.EMPTY}
    sequence = {12: Verdict.PLACEHOLDER, 13: REAL, 14: Verdict.EMPTY, 15: Verdict.EMPTY}  # 16: no number known
    result = judge(verdicts, plain, sequence)
    assert result.delivered == {11: (REAL, None), 13: (REAL, HOW_SEQUENCE)}
    # 15 was a placeholder and now answers nothing at all: that is a change, the ladder looks at it.
    assert result.unchanged == {12, 14}
