"""said.py: the words a record's "server said" shows, read from offlineimap's errors and from fetch answers."""

from __future__ import annotations

import pytest

from offlineimap_phantomfix.responses import AnswerKind, FetchAnswer
from offlineimap_phantomfix.said import add_words, answer_words, offlineimap_failure_words

# offlineimap 8.0.3's lines for a failed fetch, as raised against the emulator's faults
NOT_THERE = "IMAP server 'TestRemote' does not have a message with UID '6'"
REFUSED_NO = ("IMAP server 'TestRemote' failed to fetch messages UID '6'. Server responded: NO "
              "[b'The requested message could not be converted to an RFC-822 compatible format.']")
ABORTED = "command: UID => connection terminated, while fetching msg '6' in folder 'INBOX'. Max retry reached (1)"


@pytest.mark.parametrize(
    ("failure", "dropped", "words"),
    [
        (NOT_THERE, False, "no data"),
        (REFUSED_NO, False, "NO The requested message could not be converted to an RFC-822 compatible format."),
        ("IMAP server 'X' failed to fetch messages UID '6'. Server responded: NO "
         "[b'[SERVERBUG] Internal error occurred.', b\"it's gone\"]", False,
         "NO [SERVERBUG] Internal error occurred. it's gone"),
        ("IMAP server 'X' failed to fetch messages UID '6'. Server responded: BAD [b'\\x1b[2Jcleared']", False,
         "BAD cleared"),
        ("IMAP server 'X' failed to fetch messages UID '6'. Server responded: OK [(b'1 (UID 6 BODY[] {3}', b'abc'), "
         "(b'2 (UID 6 BODY[] {3}', b'abc')]", False, "OK, but no message offlineimap could use"),
        (ABORTED, True, "connection dropped"),
        ("command: UID => FETCH failed: Internal error occurred., while fetching msg '6' in folder 'INBOX'. "
         "Max retry reached (1)", True, "connection dropped (FETCH failed: Internal error occurred.)"),
        ("something offlineimap never said before", False, "something offlineimap never said before"),
    ],
)
def test_offlineimap_failures_become_the_server_s_words(failure: str, dropped: bool, words: str) -> None:
    assert offlineimap_failure_words(failure, dropped=dropped) == words


SUBSTITUTE = (b"From: Microsoft Exchange Server 2010\r\n"
              b"Subject: Retrieval using the IMAP4 protocol failed for the following message: 6\r\n\r\n")


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (FetchAnswer(AnswerKind.EMPTY), "no data"),
        (FetchAnswer(AnswerKind.NIL), "NIL"),
        (FetchAnswer(AnswerKind.REFUSED, server_said="BAD Command Argument Error. 11"),
         "BAD Command Argument Error. 11"),
        (FetchAnswer(AnswerKind.DROPPED, server_said="BYE FETCH failed"), "connection dropped (BYE FETCH failed)"),
        (FetchAnswer(AnswerKind.DROPPED), "connection dropped"),
        (FetchAnswer(AnswerKind.DELIVERED, content=SUBSTITUTE), "substitute notice"),
        (FetchAnswer(AnswerKind.DELIVERED, content=b"Subject: hello\r\n\r\nhi\r\n"), ""),
    ],
)
def test_each_answer_to_a_content_fetch_has_its_words(answer: FetchAnswer, words: str) -> None:
    assert answer_words(answer, 6) == words


def test_words_are_added_once_in_order_and_a_bare_drop_gives_way() -> None:
    said: list[str] = []
    for text in ("no data", "", "connection dropped", "no data", "connection dropped (BYE bye)", "connection dropped",
                 "NO \x1b[31mred"):
        add_words(said, text)
    assert said == ["no data", "connection dropped (BYE bye)", "NO red"]
