"""A user's ``copy_ignore_eval`` keeps working beside the skipped phantoms PhantomSafeIMAP adds to offlineimap's
do-not-copy list, whatever iterable it returns (real offlineimap, the emulator)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix.testing import Fault
from offlineimap_phantomfix.testing.harness import ACTIVATION_LINES, read_maildir, write_offlineimaprc
from offlineimap_phantomfix.testing.messages import make_message
from offlineimap_phantomfix.testing.scenarios import healthy_mailbox

from .phantomsafe_helpers import sync

pytestmark = pytest.mark.e2e

# A one-shot iterator: read twice, it is empty the second time.
ONE_SHOT = "lambda folder: map(int, '2 3'.split()) if folder == 'INBOX' else None"


@pytest.mark.parametrize("phantom", [False, True], ids=["no-phantom", "phantom"])
@pytest.mark.parametrize("maxage", [None, "4000"], ids=["all", "maxage"])  # maxage lists the folder twice
def test_a_one_shot_copy_ignore_eval_result_is_honoured_on_every_sync(emulator: Any, tmp_path: Path,
                                                                      phantom: bool, maxage: str | None) -> None:
    healthy_mailbox(emulator, {"INBOX": 4})
    if phantom:
        emulator.append("INBOX", make_message(77, subject="Lost"), fault=Fault.PLACEHOLDER)
    healthy_mailbox(emulator, {"INBOX": 2}, start=100)
    setup = write_offlineimaprc(tmp_path, port=emulator.port, repo_type="PhantomSafeIMAP",
                                pythonfile_lines=list(ACTIVATION_LINES), remote_options={"copy_ignore_eval": ONE_SHOT},
                                account_options={"maxage": maxage} if maxage else {})
    for _ in range(2):
        result = sync(setup)
        assert result.returncode == 0, result.output
        assert "IGNORED: Copy message UID 2 " in result.output and "IGNORED: Copy message UID 3 " in result.output, \
            result.output
    expected = {1, 4, 6, 7} if phantom else {1, 4, 5, 6}
    assert {m.uid for m in read_maildir(setup.maildir)["INBOX"]} == expected
