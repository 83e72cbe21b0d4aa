"""offlineimap's account lock as ``adopt --yes`` holds it."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from offlineimap_phantomfix.accountlock import account_lock, sync_started
from offlineimap_phantomfix.errors import PhantomFixError


def test_a_flock_held_elsewhere_refuses_and_the_lock_file_stays(tmp_path: Path) -> None:
    path = tmp_path / "Work.lock"
    with open(path, "w") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(PhantomFixError, match="is being synced right now"):
            with account_lock(tmp_path, "Work", "adopt --yes"):
                pass
    assert path.exists()


@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_check_notices_when_the_lock_file_is_no_longer_the_one_held(tmp_path: Path, how: str) -> None:
    with account_lock(tmp_path, "Work", "adopt --yes") as lock:
        lock.check()
        (tmp_path / "Work.lock").unlink()
        if how == "replaced":
            (tmp_path / "Work.lock").write_text("")
        with pytest.raises(PhantomFixError) as raised:
            lock.check()
        assert str(raised.value) == sync_started("adopt --yes") == \
            "a sync started; run adopt --yes again when it ends"


def test_the_lock_file_stays_for_whoever_waits_on_it(tmp_path: Path) -> None:
    with account_lock(tmp_path, "Work", "purge --yes") as lock:
        inode = os.fstat(lock.descriptor).st_ino
    assert (tmp_path / "Work.lock").stat().st_ino == inode
    with pytest.raises(OSError):
        os.fstat(lock.descriptor)


def test_the_refusal_names_the_command_to_run_again(tmp_path: Path) -> None:
    with open(tmp_path / "Work.lock", "w") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(PhantomFixError, match=r"run purge --yes again when the sync has finished$"):
            with account_lock(tmp_path, "Work", "purge --yes"):
                pass


def test_a_missing_metadata_directory_is_made_private(tmp_path: Path) -> None:
    metadata = tmp_path / "never-synced" / "metadata"
    with account_lock(metadata, "Work", "purge --yes"):
        assert (metadata / "Work.lock").exists()
    assert metadata.stat().st_mode & 0o777 == 0o700
