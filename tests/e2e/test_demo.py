"""``offlineimap-phantomfix demo`` / ``make demo``: succeeds, shows every part, and stays under a minute."""

from __future__ import annotations

import io
import re
import time

import pytest

from offlineimap_phantomfix.testing.demo import HEADINGS, run_demo

pytestmark = pytest.mark.e2e


def test_demo_runs_in_under_a_minute_and_shows_every_part() -> None:
    out = io.StringIO()
    started = time.monotonic()
    status = run_demo(out)
    elapsed = time.monotonic() - started
    text = out.getvalue()
    assert status == 0, text
    assert elapsed < 60, f"the demo took {elapsed:.1f} s\n{text}"
    positions = [text.find(f"== {heading} ==") for heading in HEADINGS]
    assert all(position >= 0 for position in positions), text
    assert positions == sorted(positions), text
    stock = re.search(r"exit status (\d+); \d+ of the \d+ healthy messages reached", text)
    assert stock is not None and stock.group(1) != "0", text
    assert "PhantomSafeIMAP exit status 0" in text
    assert "phantomfix:" in text  # the PhantomSafeIMAP run's own lines
    assert "mutt -f " in text
    quarantined = re.search(r"(\d+) item\(s\) in the quarantine Maildir", text)
    assert quarantined is not None and int(quarantined.group(1)) >= 4, text
    assert "\x1b" not in text
    # verdicts throughout, never the emulator's own names for its faults
    assert not re.search(r"sequence_only|refused_no|\bvanish\b", text), text
    first = text[positions[0]:positions[1]]
    assert re.search(r"UID \d+ +recovered +\"Minutes of the team meeting\"", first), first
    # every next step the report prints names the demo's config, never the reader's own
    steps = re.findall(r"offlineimap-phantomfix( -c \S+)? (?:probe|clear|purge) ", text)
    assert steps and all(steps), text
