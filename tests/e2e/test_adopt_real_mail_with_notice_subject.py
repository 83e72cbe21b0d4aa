"""A real mail whose Subject is exactly the notice phrase, with a prose body, is real mail: adopt leaves it.

The detector judges the notice by its whole shape (placeholder.py), not by its Subject."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix.testing.harness import (
    ACTIVATION_LINES,
    normalise_newlines,
    offlineimap_env,
    read_maildir,
    write_offlineimaprc,
)
from offlineimap_phantomfix.testing.scenarios import healthy_mailbox

from .phantomsafe_helpers import sync
from .test_adopt import helper_command, server_changes

pytestmark = pytest.mark.e2e

IT_ADMIN = (
    b"From: IT Administrator <it@example.org>\r\nTo: user@example.org\r\n"
    b"Subject: Retrieval using the IMAP4 protocol failed for the following message: 7\r\n"
    b"Date: Tue, 05 Mar 2024 09:00:00 +0000\r\nMessage-ID: <it-1@example.org>\r\n\r\n"
    b"Hello,\r\n\r\nsome of you have seen messages with the subject above in your mail program. We are\r\n"
    b"looking into it with the mail server's vendor. Please do not delete anything meanwhile.\r\n\r\n"
    b"Regards,\r\nIT\r\n"
)


def test_a_real_mail_with_the_notice_phrase_as_subject_is_left_alone(emulator: Any, tmp_path: Path) -> None:
    healthy_mailbox(emulator, {"INBOX": 3})
    uid = emulator.append("INBOX", IT_ADMIN)
    assert sync(write_offlineimaprc(tmp_path, port=emulator.port, repo_type="IMAP")).returncode == 0
    setup = write_offlineimaprc(tmp_path, port=emulator.port, repo_type="PhantomSafeIMAP",
                                pythonfile_lines=list(ACTIVATION_LINES))
    env = offlineimap_env(setup)
    for args in ((), ("--yes",)):
        result = subprocess.run(helper_command(setup, "adopt", *args), capture_output=True, text=True, env=env,
                                timeout=300)
        assert result.returncode == 0, result.stderr
        assert "account Test: 0 substitute notices in the Maildir" in result.stdout, result.stdout
    assert [m.raw for m in read_maildir(setup.maildir)["INBOX"] if m.uid == uid] == [normalise_newlines(IT_ADMIN)]
    assert sync(setup).returncode == 0
    assert server_changes(emulator) == []
