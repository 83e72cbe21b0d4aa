"""The model-based life-cycle tier: seeded random walks through a mailbox's life (see ``life_model``).

CI runs ``PHANTOMFIX_LIFE_EXAMPLES`` (default 25) walks of up to ``PHANTOMFIX_LIFE_STEPS`` (default 12) steps,
seeds 0, 1, ...; ``PHANTOMFIX_LIFE_SEED_BASE`` starts elsewhere and ``PHANTOMFIX_LIFE_SEED`` replays one walk.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from .life_model import Walk

pytestmark = [pytest.mark.e2e, pytest.mark.lifecycle]


def _seeds() -> list[int]:
    if os.environ.get("PHANTOMFIX_LIFE_SEED", "").strip():
        return [int(os.environ["PHANTOMFIX_LIFE_SEED"])]
    base = int(os.environ.get("PHANTOMFIX_LIFE_SEED_BASE", "0"))
    return list(range(base, base + int(os.environ.get("PHANTOMFIX_LIFE_EXAMPLES", "25"))))


@pytest.mark.parametrize("seed", _seeds())
def test_a_mailbox_life_keeps_every_invariant(emulator: Any, tmp_path: Path, seed: int) -> None:
    walk = Walk(emulator, tmp_path, seed)
    syncs = walk.run(int(os.environ.get("PHANTOMFIX_LIFE_STEPS", "12")))
    assert syncs >= 2
    emulator.raise_errors()
