"""Re-checking a folder's due phantoms together: one fetch for the whole set, then what each answer means.

A recorded phantom whose ``phantom_retry_after`` has passed is fetched again. Asked one by one, each costs a
round trip and, when it still fails, the whole ladder. Asked as one set, the answers say which now deliver
(synced and healed), which answer just as their verdict says (recorded again, no ladder), and which answer
differently (those alone go the usual way: plain fetch, then the ladder).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from offlineimap_phantomfix.placeholder import substitute_for
from offlineimap_phantomfix.responses import parse_fetch_data
from offlineimap_phantomfix.verdicts import Verdict

# Verdicts whose messages answer a set fetch without failing the whole command (a NO or a BYE would hide
# every other answer of the set); refused and dropped ones are re-checked one by one.
SET_VERDICTS = frozenset({Verdict.EMPTY, Verdict.PLACEHOLDER, Verdict.UNPARSEABLE})
SET_ITEMS = "(UID BODY.PEEK[])"


@dataclass
class Recheck:
    """What the set fetch said: content of the messages that now deliver, and the UIDs that answered as
    their verdict says. A UID in neither goes the usual way."""

    delivered: dict[int, bytes] = field(default_factory=dict)
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


def judge_set(typ: str, data: Sequence[object], verdicts: Mapping[int, Verdict],
              accept: Callable[[bytes], bool]) -> Recheck:
    """Read the answer to ``UID FETCH <set> (UID BODY.PEEK[])`` for the due records' ``verdicts`` by UID."""
    result = Recheck()
    if typ != "OK":
        return result
    answers = {response.uid: response for response in parse_fetch_data(data) if response.uid in verdicts}
    for uid, verdict in verdicts.items():
        response = answers.get(uid)
        if response is not None and response.has_nil_content():
            continue  # expunged meanwhile, or said to be: the usual way tells which
        content = response.content() if response is not None else None
        if content is None:
            answered = Verdict.EMPTY
        elif substitute_for(content, uid) is not None:
            answered = Verdict.PLACEHOLDER
        elif accept(content):
            result.delivered[uid] = content
            continue
        else:
            answered = Verdict.UNPARSEABLE
        # Exchange hides its substitute from BODY.PEEK[]: an empty answer is what a placeholder gives it too.
        if answered is verdict or (verdict is Verdict.PLACEHOLDER and answered is Verdict.EMPTY):
            result.unchanged.add(uid)
    return result
