"""The time the skip list goes by: the system clock, shifted forward by ``PHANTOMFIX_TEST_CLOCK_SHIFT`` seconds.

A test hook, read from the environment only (never from offlineimaprc), so the life-cycle tests can move a
sync past ``phantom_retry_after`` without waiting. Unset, empty or not a finite number: no shift.
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timedelta, timezone

SHIFT_ENV = "PHANTOMFIX_TEST_CLOCK_SHIFT"


def now() -> datetime:
    """The current UTC time, shifted by the test hook when it is set."""
    current = datetime.now(timezone.utc)
    try:
        shift = float(os.environ.get(SHIFT_ENV, "") or 0)
        return current + timedelta(seconds=shift) if math.isfinite(shift) else current
    except (ValueError, OverflowError):
        return current
