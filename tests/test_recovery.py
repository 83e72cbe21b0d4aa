"""recovery.py: the ladder, driven by scripted server answers (every scripted step must be used)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Union

import pytest

from offlineimap_phantomfix.recovery import (
    EVIDENCE_ITEMS,
    HEADER_ITEMS,
    MAX_COMMANDS,
    SEQUENCE_ITEMS,
    STEP_SEQUENCE,
    STEP_UID,
    UID_ITEMS,
    ConnectionDropped,
    run_ladder,
)
from offlineimap_phantomfix.said import NO_DATA
from offlineimap_phantomfix.verdicts import Original, Verdict

UID = 15541
MSN = 1045
REAL = b"From: Alice <alice@example.org>\r\nSubject: Quarterly figures\r\n\r\nThe figures.\r\n"
SUBSTITUTE = (
    b"From: Microsoft Exchange Server 2010\r\n"
    b"Subject: Retrieval using the IMAP4 protocol failed for the following message:\r\n 15541\r\n"
    b"Content-Type: text/plain; charset=\"us-ascii\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"The server couldn't retrieve the following message:\r\n\r\nSubject: \"Quarterly figures\"\r\n"
    b"From: \"Alice Example\" <alice@example.org>\r\nSent date: 1/20/2016 3:41:07 PM\r\n\r\n"
    b"The message hasn't been deleted. You might be able to view it using either Outlook or Outlook Web A=\r\n"
    b"pp. You can also try contacting the original sender to find out what the message was about.\r\n\r\n"
    b"Thank you.\r\n"
)
Answer = Union[tuple[str, Sequence[object]], Exception]
OK_EMPTY: Answer = ("OK", [None])
LOCATED: Answer = ("OK", [b"%d (UID %d FLAGS (\\Seen))" % (MSN, UID)])
META: Answer = ("OK", [b'%d (UID %d FLAGS () INTERNALDATE "20-Jan-2016 15:41:07 +0100" RFC822.SIZE 4242 '
                       b'BODYSTRUCTURE ("text" "plain" NIL NIL NIL "7bit" 10 1) ENVELOPE (NIL NIL))' % (MSN, UID)])
NO_TEXT = "The requested message could not be converted to an RFC-822 compatible format."
NO: Answer = ("NO", [NO_TEXT.encode()])


def body(content: bytes, uid: int = UID, name: bytes = b"BODY[]") -> Answer:
    return ("OK", [(b"%d (UID %d %s {%d}" % (MSN, uid, name, len(content)), content), b")"])


@dataclass
class Script:
    """Scripted conversation: each entry is (method, argument, answer); unused entries fail the test."""

    steps: list[tuple[str, str, Answer]]
    expunged: bool = False  # the first connection received an EXPUNGE before the ladder began
    opened: int = 0
    released: list[bool] = field(default_factory=list)

    def open(self) -> Script.Conn:
        self.opened += 1
        return Script.Conn(self)

    def release(self, connection: object, *, broken: bool) -> None:
        self.released.append(broken)

    def take(self, method: str, argument: str) -> tuple[str, Sequence[object]]:
        assert self.steps, f"unexpected {method} {argument}: nothing more was scripted"
        want_method, want_argument, answer = self.steps.pop(0)
        assert (method, argument) == (want_method, want_argument), f"expected {want_method} {want_argument}"
        if isinstance(answer, Exception):
            raise answer
        return answer

    class Conn:
        def __init__(self, script: Script) -> None:
            self.script = script
            self.expunged = script.expunged and script.opened == 1

        def saw_expunge(self) -> bool:
            return self.expunged

        def uid_fetch(self, uid: int, items: str) -> tuple[str, Sequence[object]]:
            assert uid == UID
            return self.script.take("uid_fetch", items)

        def seq_fetch(self, msn: int, items: str) -> tuple[str, Sequence[object]]:
            assert msn == MSN
            return self.script.take("seq_fetch", items)

        def fresh_uid_search(self, uid: int) -> tuple[str, Sequence[object]]:
            return self.script.take("fresh_uid_search", str(uid))


def accept_all(raw: bytes) -> bool:
    return True


def ladder(script: Script, accept=accept_all, *, first_dropped: bool = False,  # type: ignore[no-untyped-def]
           first_said: str = NO_DATA):
    outcome = run_ladder(script, UID, accept=accept, first_said=first_said, first_dropped=first_dropped)
    assert not script.steps, f"scripted steps left unused: {script.steps}"
    assert outcome.commands <= MAX_COMMANDS
    return outcome


LOCATE = ("uid_fetch", EVIDENCE_ITEMS, META)


def by_sequence(answer: Answer) -> tuple[str, str, Answer]:
    return ("seq_fetch", SEQUENCE_ITEMS, answer)


def test_empty_everywhere_is_empty_with_evidence() -> None:
    script = Script([LOCATE, by_sequence(OK_EMPTY)])
    outcome = ladder(script)
    assert outcome.verdict is Verdict.EMPTY
    assert outcome.content is None
    assert outcome.commands == 2, "one metadata fetch, one content fetch: nothing else"
    assert outcome.evidence.size == 4242
    assert outcome.evidence.sequence_number == MSN
    assert "INTERNALDATE" not in (outcome.evidence.internaldate or "")
    assert outcome.evidence.internaldate == "20-Jan-2016 15:41:07 +0100"
    assert outcome.evidence.bodystructure is not None and "plain" in outcome.evidence.bodystructure
    assert script.released == [False]
    assert outcome.server_said == "no data", "the plain fetch and the ladder's, said once"
    assert outcome.evidence.notes == []


@pytest.mark.parametrize(
    ("steps", "step"),
    [
        ([by_sequence(body(REAL))], STEP_SEQUENCE),
        ([by_sequence(body(REAL, uid=UID + 1)), ("uid_fetch", UID_ITEMS, body(REAL))], STEP_UID),
    ],
)
def test_recovered_records_the_step_that_worked(steps: list[tuple[str, str, Answer]], step: str) -> None:
    outcome = ladder(Script([LOCATE, *steps]))
    assert outcome.verdict is Verdict.RECOVERED
    assert outcome.recovered_by == step
    assert outcome.content == REAL


def test_without_an_envelope_the_header_is_asked_for_as_evidence() -> None:
    header = REAL.split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    bare: Answer = ("OK", [b"%d (UID %d FLAGS () RFC822.SIZE 4242)" % (MSN, UID)])
    outcome = ladder(Script([("uid_fetch", EVIDENCE_ITEMS, bare), by_sequence(OK_EMPTY),
                             ("uid_fetch", HEADER_ITEMS, body(header, name=b"BODY[HEADER]"))]))
    assert outcome.verdict is Verdict.EMPTY
    assert outcome.evidence.header == header


def test_sequence_answer_for_another_uid_is_not_used() -> None:
    script = Script([LOCATE, by_sequence(body(REAL, uid=UID + 3)), ("uid_fetch", UID_ITEMS, OK_EMPTY)])
    outcome = ladder(script)
    assert outcome.verdict is Verdict.EMPTY
    assert outcome.content is None
    assert outcome.evidence.server_said == ["no data", "sequence fetch answered with UID 15544, not 15541"]


NOT_LISTED = ("uid_fetch", EVIDENCE_ITEMS, OK_EMPTY)
SEARCH_EMPTY = ("fresh_uid_search", str(UID), ("OK", [b""]))
SEARCH_LISTS = ("fresh_uid_search", str(UID), ("OK", [b"%d" % UID]))
NIL: Answer = ("OK", [b"%d (UID %d BODY[] NIL)" % (MSN, UID)])


def test_gone_from_fetch_and_from_a_fresh_view_is_vanished_at_three_commands() -> None:
    script = Script([NOT_LISTED, SEARCH_EMPTY])
    outcome = ladder(script)
    assert outcome.verdict is Verdict.VANISHED
    assert not outcome.verdict.is_phantom
    assert script.opened == 1 and script.released == [False], "the folder is examined again, no new login"


def test_listed_again_in_a_fresh_view_goes_on_with_the_ladder() -> None:
    script = Script([NOT_LISTED, SEARCH_LISTS, LOCATE, by_sequence(body(REAL))])
    outcome = ladder(script)
    assert outcome.verdict is Verdict.RECOVERED and outcome.content == REAL
    assert outcome.evidence.sequence_number == MSN, "where it is in the new view"


def test_listed_by_search_alone_in_a_fresh_view_is_not_vanished() -> None:
    script = Script([NOT_LISTED, SEARCH_LISTS, NOT_LISTED, ("uid_fetch", UID_ITEMS, OK_EMPTY),
                     ("uid_fetch", HEADER_ITEMS, OK_EMPTY)])
    outcome = ladder(script)
    assert outcome.verdict is Verdict.EMPTY


def test_a_refused_search_is_not_taken_for_gone() -> None:
    script = Script([NOT_LISTED, ("fresh_uid_search", str(UID), ("NO", [b"SEARCH failed"])), NOT_LISTED,
                     ("uid_fetch", UID_ITEMS, OK_EMPTY), ("uid_fetch", HEADER_ITEMS, OK_EMPTY)])
    assert ladder(script).verdict is Verdict.EMPTY


def test_nil_body_then_gone_is_vanished() -> None:
    script = Script([LOCATE, by_sequence(NIL), SEARCH_EMPTY])
    outcome = ladder(script)
    assert outcome.verdict is Verdict.VANISHED
    assert script.opened == 1


def test_nil_body_but_listed_in_a_fresh_view_is_a_phantom() -> None:
    # The session that got the EXPUNGE no longer lists the UID; a new EXAMINE does: not expunged at all.
    script = Script([LOCATE, by_sequence(NIL), SEARCH_LISTS])
    outcome = ladder(script)
    assert outcome.verdict is Verdict.EMPTY and outcome.verdict.is_phantom
    assert outcome.evidence.sequence_number == MSN


def test_a_connection_that_saw_an_expunge_asks_a_fresh_view_first() -> None:
    script = Script([SEARCH_EMPTY], expunged=True)
    outcome = ladder(script)
    assert outcome.verdict is Verdict.VANISHED
    assert outcome.commands == 1 and script.opened == 1


def test_listed_in_the_fresh_view_after_an_expunge_is_judged_there() -> None:
    script = Script([SEARCH_LISTS, LOCATE, by_sequence(OK_EMPTY)], expunged=True)
    outcome = ladder(script)
    assert outcome.verdict is Verdict.EMPTY
    assert outcome.evidence.sequence_number == MSN


def test_listed_in_the_fresh_view_is_not_searched_twice_when_its_metadata_is_empty() -> None:
    script = Script([SEARCH_LISTS, NOT_LISTED, ("uid_fetch", UID_ITEMS, OK_EMPTY),
                     ("uid_fetch", HEADER_ITEMS, OK_EMPTY)], expunged=True)
    assert ladder(script).verdict is Verdict.EMPTY


def test_a_drop_during_the_fresh_view_is_retried_on_a_new_connection() -> None:
    script = Script([NOT_LISTED, ("fresh_uid_search", str(UID), BYE), SEARCH_EMPTY])
    outcome = ladder(script)
    assert outcome.verdict is Verdict.VANISHED
    assert script.opened == 2 and script.released[0] is True


class Unreachable(Script):
    def open(self) -> Script.Conn:
        self.opened += 1
        raise ConnectionDropped("could not connect: LOGIN failed")


def test_no_new_connection_is_a_drop_not_an_exception() -> None:
    script = Unreachable([])
    outcome = ladder(script)
    assert outcome.verdict is Verdict.DROPPED
    assert script.opened >= 2
    assert any("could not open a connection" in note for note in outcome.evidence.notes)
    assert outcome.server_said == "no data", "no content fetch was answered but the plain one"


def test_no_new_connection_after_a_dropped_plain_fetch_is_dropped() -> None:
    script = Unreachable([])
    outcome = ladder(script, first_dropped=True)
    assert outcome.verdict is Verdict.DROPPED
    assert script.opened == 2, "each failure to connect counts as a drop: one confirms, one more for evidence"


def test_substitute_from_non_peek_fetch_is_placeholder_kept_as_received() -> None:
    script = Script([LOCATE, by_sequence(body(SUBSTITUTE))])
    outcome = ladder(script)
    assert outcome.verdict is Verdict.PLACEHOLDER
    assert outcome.content == SUBSTITUTE
    assert outcome.original is not None and outcome.original.subject == "Quarterly figures"


def test_refused_is_refused_after_one_refusal() -> None:
    script = Script([LOCATE, by_sequence(NO)])
    outcome = ladder(script)
    assert outcome.verdict is Verdict.REFUSED
    assert "could not be converted" in outcome.server_said
    assert outcome.evidence.size == 4242
    assert script.released == [False], "one refusal does not make a connection unusable"


BYE = ConnectionDropped("FETCH failed: Internal error occurred. Refer to server log for more information.")


def test_drop_is_confirmed_once_on_a_fresh_connection_then_dropped() -> None:
    script = Script([LOCATE, by_sequence(BYE), by_sequence(BYE)])
    outcome = ladder(script)
    assert outcome.verdict is Verdict.DROPPED
    assert script.opened == 2
    assert script.released == [True, True]
    assert outcome.evidence.size == 4242
    assert outcome.evidence.server_said == ["no data", "connection dropped (FETCH failed: Internal error occurred. "
                                            "Refer to server log for more information.)"]


def test_a_dropped_plain_fetch_is_confirmed_by_one_drop_after_the_evidence() -> None:
    script = Script([LOCATE, by_sequence(BYE)])
    outcome = ladder(script, first_dropped=True)
    assert outcome.verdict is Verdict.DROPPED
    assert script.opened == 1 and script.released == [True]
    assert outcome.evidence.size == 4242


def test_a_dropped_plain_fetch_that_now_delivers_is_recovered() -> None:
    outcome = ladder(Script([LOCATE, by_sequence(body(REAL))]), first_dropped=True)
    assert outcome.verdict is Verdict.RECOVERED


def test_a_single_drop_that_does_not_recur_is_not_dropped() -> None:
    script = Script([LOCATE, by_sequence(ConnectionDropped("reset")), by_sequence(body(REAL))])
    outcome = ladder(script)
    assert outcome.verdict is Verdict.RECOVERED and outcome.recovered_by == STEP_SEQUENCE


def test_bytes_that_do_not_parse_are_unparseable_and_kept_raw() -> None:
    broken = b"\xff\xfe not a message"
    script = Script([LOCATE, by_sequence(body(broken))])
    outcome = ladder(script, accept=lambda raw: False)
    assert outcome.verdict is Verdict.UNPARSEABLE
    assert outcome.content == broken


def test_no_first_then_bye_on_repeat_is_refused_not_dropped() -> None:
    """Dovecot's imap_fetch_failure = no-after: NO once per session, BYE when fetched again in it."""
    serverbug: Answer = ("NO", [b"[SERVERBUG] Internal error occurred. Refer to server log for more information."])
    script = Script([LOCATE, by_sequence(BYE), by_sequence(serverbug)])
    outcome = ladder(script)
    assert outcome.verdict is Verdict.REFUSED
    assert "[SERVERBUG]" in outcome.server_said


def test_refused_evidence_still_locates_and_counts_as_a_refusal() -> None:
    """Dovecot reads a broken file for BODYSTRUCTURE too: NO there (first in the session), BYE on the next."""
    serverbug: Answer = ("NO", [b"[SERVERBUG] Internal error occurred. Refer to server log for more information."])
    script = Script([("uid_fetch", EVIDENCE_ITEMS, BYE), ("uid_fetch", EVIDENCE_ITEMS, serverbug),
                     ("uid_fetch", "(UID FLAGS)", LOCATED), by_sequence(BYE)])
    outcome = ladder(script)
    assert outcome.verdict is Verdict.REFUSED
    assert outcome.evidence.sequence_number == MSN
    assert "SERVERBUG" not in outcome.server_said, "the metadata fetch's answer is not what the content got"
    assert outcome.evidence.server_said == ["no data", f"connection dropped ({BYE})"]
    assert [note for note in outcome.evidence.notes if "SERVERBUG" in note] == \
        ["metadata fetch: NO [SERVERBUG] Internal error occurred. Refer to server log for more information."]


def test_metadata_refused_after_two_drops_stays_dropped() -> None:
    script = Script([("uid_fetch", EVIDENCE_ITEMS, BYE), ("uid_fetch", EVIDENCE_ITEMS, BYE),
                     ("uid_fetch", EVIDENCE_ITEMS, NO), ("uid_fetch", "(UID FLAGS)", LOCATED)])
    outcome = ladder(script)
    assert outcome.verdict is Verdict.DROPPED
    assert outcome.evidence.sequence_number == MSN


# --- "server said": the answers to the content fetches only ------------------------------------------------

OFFICE365_BAD: Answer = ("BAD", [b"Command Argument Error. 11"])


def test_a_refused_metadata_fetch_is_kept_out_of_server_said() -> None:
    """Office 365 answers the metadata FETCH with BAD; the content fetch by sequence number gets no data."""
    script = Script([("uid_fetch", EVIDENCE_ITEMS, OFFICE365_BAD), ("uid_fetch", "(UID FLAGS)", LOCATED),
                     by_sequence(OK_EMPTY)])
    outcome = ladder(script)
    assert outcome.verdict is Verdict.REFUSED  # as before: the evidence fetch's refusal counts
    assert outcome.server_said == "no data"
    assert outcome.evidence.notes == ["metadata fetch: BAD Command Argument Error. 11"]


def test_the_content_fetches_answer_in_order_each_once() -> None:
    script = Script([LOCATE, by_sequence(body(REAL, uid=UID + 3)), ("uid_fetch", UID_ITEMS, OFFICE365_BAD)])
    outcome = ladder(script, first_said="BAD Command Argument Error. 11")
    assert outcome.verdict is Verdict.REFUSED
    assert outcome.evidence.server_said == ["BAD Command Argument Error. 11",
                                            "sequence fetch answered with UID 15544, not 15541"]


def test_a_placeholder_says_no_data_then_substitute_notice() -> None:
    """BODY.PEEK[] (offlineimap's fetch) got nothing, BODY[] the substitute: offlineimap's own error line
    is not what the server said."""
    outcome = ladder(Script([LOCATE, by_sequence(body(SUBSTITUTE))]))
    assert outcome.verdict is Verdict.PLACEHOLDER
    assert outcome.server_said == "no data | substitute notice"
    substitute_everywhere = ladder(Script([LOCATE, by_sequence(body(SUBSTITUTE))]), first_said="substitute notice")
    assert substitute_everywhere.server_said == "substitute notice"


def test_a_refused_header_fetch_is_a_note() -> None:
    bare: Answer = ("OK", [b"%d (UID %d FLAGS () RFC822.SIZE 4242)" % (MSN, UID)])
    outcome = ladder(Script([("uid_fetch", EVIDENCE_ITEMS, bare), by_sequence(OK_EMPTY),
                             ("uid_fetch", HEADER_ITEMS, NO)]))
    assert outcome.verdict is Verdict.EMPTY
    assert outcome.server_said == "no data"
    assert outcome.evidence.notes == [f"header fetch: NO {NO_TEXT}"]


def test_a_dropped_plain_fetch_takes_the_words_of_the_confirming_drop() -> None:
    outcome = ladder(Script([LOCATE, by_sequence(BYE)]), first_dropped=True, first_said="connection dropped")
    assert outcome.verdict is Verdict.DROPPED
    assert outcome.evidence.server_said == [f"connection dropped ({BYE})"]


def test_a_drop_of_the_metadata_fetch_is_a_note() -> None:
    script = Script([("uid_fetch", EVIDENCE_ITEMS, BYE), LOCATE, by_sequence(OK_EMPTY)])
    outcome = ladder(script)
    assert outcome.verdict is Verdict.EMPTY
    assert outcome.server_said == "no data"
    assert outcome.evidence.notes == [f"connection dropped ({BYE})"]


# --- what the ENVELOPE names ------------------------------------------------------------------------------

ENVELOPED: Answer = ("OK", [b'%d (UID %d FLAGS () RFC822.SIZE 4242 ENVELOPE ("Wed, 20 Jan 2016 15:41:07 +0100" '
                            b'"=?utf-8?q?Quarterly_figures_=E2=82=AC?=" (("Alice Example" NIL "alice" "example.org")) '
                            b'NIL NIL NIL NIL NIL NIL "<q@example.org>"))' % (MSN, UID)])
FIGURES = Original(subject="Quarterly figures \u20ac", sender="Alice Example <alice@example.org>",
                   date="Wed, 20 Jan 2016 15:41:07 +0100")


@pytest.mark.parametrize(("answer", "verdict"), [(OK_EMPTY, Verdict.EMPTY), (NO, Verdict.REFUSED)])
def test_the_envelope_names_the_lost_mail(answer: Answer, verdict: Verdict) -> None:
    outcome = ladder(Script([("uid_fetch", EVIDENCE_ITEMS, ENVELOPED), by_sequence(answer)]))
    assert outcome.verdict is verdict
    assert outcome.original == FIGURES


def test_the_envelope_names_the_lost_mail_after_drops() -> None:
    script = Script([("uid_fetch", EVIDENCE_ITEMS, ENVELOPED), by_sequence(BYE), by_sequence(BYE)])
    outcome = ladder(script)
    assert outcome.verdict is Verdict.DROPPED
    assert outcome.original == FIGURES


def test_a_substitute_notice_names_the_lost_mail_not_the_envelope() -> None:
    outcome = ladder(Script([("uid_fetch", EVIDENCE_ITEMS, ENVELOPED), by_sequence(body(SUBSTITUTE))]))
    assert outcome.verdict is Verdict.PLACEHOLDER
    assert outcome.original is not None and outcome.original.subject == "Quarterly figures"
