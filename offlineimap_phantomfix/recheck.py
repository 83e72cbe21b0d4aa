"""Re-checking a folder's due phantoms together: one fetch for the whole set, then what each answer means.

A recorded phantom whose ``phantom_retry_after`` has passed is fetched again. Asked one by one, each costs a
round trip and, when it still fails, the whole ladder. Asked as a set (the plain fetch's form by UID, then
the ladder's content fetch by sequence number for those not delivered), the answers say which now deliver
(synced and healed), which answer just as their verdict says (recorded again, no ladder), and which answer
differently (those alone go the usual way: plain fetch, then the ladder).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Union

from offlineimap_phantomfix.placeholder import substitute_for
from offlineimap_phantomfix.responses import FetchResponse, parse_fetch_data
from offlineimap_phantomfix.verdicts import Verdict

# Verdicts whose messages answer a set fetch without failing the whole command (a NO or a BYE would hide
# every other answer of the set); refused and dropped ones are re-checked one by one.
SET_VERDICTS = frozenset({Verdict.EMPTY, Verdict.PLACEHOLDER, Verdict.UNPARSEABLE})
PLAIN_ITEMS = "(UID BODY.PEEK[])"  # the plain fetch's form, by UID
SEQUENCE_ITEMS = "(UID BODY[])"  # the ladder's form, by sequence number, under EXAMINE
HOW_SEQUENCE = "sequence-fetch"

# What one message answered: its deliverable content, what a phantom answers (as a verdict), or None when
# only the usual way can tell (expunged meanwhile, another message at its sequence number, no answer at all).
Answer = Union[bytes, Verdict, None]


@dataclass
class Recheck:
    """What the set fetches said: the messages that now deliver (content, and how), and the UIDs that
    answered as their verdict says. A UID in neither goes the usual way."""

    delivered: dict[int, tuple[bytes, str | None]] = field(default_factory=dict)
    unchanged: set[int] = field(default_factory=set)


def uid_set(uids: Iterable[int]) -> str:
    """``1,2,3,7,9,10`` as ``1:3,7,9:10``."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    start = previous = None
    for uid in [*ordered, None]:
        if start is not None and previous is not None and uid == previous + 1:
            previous = uid
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}:{previous}")
        start = previous = uid
    return ",".join(parts)


def _answer(response: FetchResponse | None, uid: int, accept: Callable[[bytes], bool]) -> Answer:
    if response is None:
        return Verdict.EMPTY
    if response.has_nil_content():
        return None
    content = response.content()
    if content is None:
        return Verdict.EMPTY
    if substitute_for(content, uid) is not None:
        return Verdict.PLACEHOLDER
    return content if accept(content) else Verdict.UNPARSEABLE


def read_by_uid(typ: str, data: Sequence[object], uids: Collection[int],
                accept: Callable[[bytes], bool]) -> dict[int, Answer]:
    """Each UID's answer to ``UID FETCH <set> (UID BODY.PEEK[])``; every one None when the command failed."""
    if typ != "OK":
        return dict.fromkeys(uids)
    by_uid = {response.uid: response for response in parse_fetch_data(data) if response.uid in uids}
    return {uid: _answer(by_uid.get(uid), uid, accept) for uid in uids}


def read_by_sequence(typ: str, data: Sequence[object], expected: Mapping[int, int],
                     accept: Callable[[bytes], bool]) -> dict[int, Answer]:
    """Each UID's answer to ``FETCH <set> (UID BODY[])`` for ``expected`` (sequence number -> UID). Another
    UID at a message's number is no delivery of it (the ladder judges such an answer the same way)."""
    if typ != "OK":
        return dict.fromkeys(expected.values())
    by_msn = {response.msn: response for response in parse_fetch_data(data) if response.msn in expected}
    answers: dict[int, Answer] = {}
    for msn, uid in expected.items():
        response = by_msn.get(msn)
        answers[uid] = Verdict.EMPTY if response is not None and response.uid != uid else \
            _answer(response, uid, accept)
    return answers


def judge(verdicts: Mapping[int, Verdict], plain: Mapping[int, Answer],
          sequence: Mapping[int, Answer]) -> Recheck:
    """Combine both answers of each due record with its verdict. A message missing from ``sequence`` (no
    sequence number known) is unchanged only if the plain answer already differs from a delivery."""
    result = Recheck()
    for uid, verdict in verdicts.items():
        first = plain.get(uid)
        if isinstance(first, bytes):
            result.delivered[uid] = (first, None)
            continue
        if first is None or uid not in sequence:
            continue
        second = sequence[uid]
        if isinstance(second, bytes):
            result.delivered[uid] = (second, HOW_SEQUENCE)
            continue
        if second is None:
            continue
        answered = {first, second}
        combined = next((v for v in (Verdict.PLACEHOLDER, Verdict.UNPARSEABLE) if v in answered), Verdict.EMPTY)
        if combined is verdict:
            result.unchanged.add(uid)
    return result
