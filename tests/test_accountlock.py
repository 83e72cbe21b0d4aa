"""offlineimap's account lock as ``adopt --yes`` holds it."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

from offlineimap_phantomfix.accountlock import SYNC_STARTED, account_lock
from offlineimap_phantomfix.errors import PhantomFixError


def test_a_flock_held_elsewhere_refuses_and_the_lock_file_stays(tmp_path: Path) -> None:
    path = tmp_path / "Work.lock"
    with open(path, "w") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(PhantomFixError, match="is being synced right now"):
            with account_lock(tmp_path, "Work"):
                pass
    assert path.exists()


@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_check_notices_when_the_lock_file_is_no_longer_the_one_held(tmp_path: Path, how: str) -> None:
    with account_lock(tmp_path, "Work") as lock:
        lock.check()
        (tmp_path / "Work.lock").unlink()
        if how == "replaced":
            (tmp_path / "Work.lock").write_text("")
        with pytest.raises(PhantomFixError) as raised:
            lock.check()
        assert str(raised.value) == SYNC_STARTED
