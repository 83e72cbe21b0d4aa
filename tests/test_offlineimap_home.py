"""Finding offlineimap's modules outside the module path (Debian's /usr/share/offlineimap3)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from offlineimap_phantomfix.offlineimap_home import find_offlineimap_home, make_offlineimap_importable

SOURCE_ROOT = Path(__file__).resolve().parents[1]


def _fake_home(directory: Path, mark: str) -> Path:
    package = directory / "offlineimap"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"MARK = {mark!r}\n", encoding="utf-8")
    return directory


def test_first_directory_holding_the_package_wins(tmp_path: Path) -> None:
    (tmp_path / "no-init" / "offlineimap").mkdir(parents=True)  # a directory of that name is not a package
    first = _fake_home(tmp_path / "first", "first")
    _fake_home(tmp_path / "second", "second")
    candidates = [str(tmp_path / "missing"), str(tmp_path / "no-init"), str(first), str(tmp_path / "second")]
    assert find_offlineimap_home(candidates) == str(first)
    assert find_offlineimap_home([str(tmp_path / "missing"), str(tmp_path / "no-init")]) is None


def test_an_importable_offlineimap_is_left_alone(tmp_path: Path) -> None:
    before = list(sys.path)
    assert make_offlineimap_importable([str(_fake_home(tmp_path, "fake"))]) is None
    assert sys.path == before
    import offlineimap

    assert not hasattr(offlineimap, "MARK")


def test_a_python_without_offlineimap_imports_it_from_the_home(tmp_path: Path) -> None:
    home = _fake_home(tmp_path / "share", "from-home")
    code = ("import sys; from offlineimap_phantomfix.offlineimap_home import make_offlineimap_importable as m; "
            f"added = m({[str(home), '/nonexistent']!r}); import offlineimap; "
            "print(added, offlineimap.MARK, sys.path.count(added)); m([added]); print(sys.path.count(added))")
    # -S: no site-packages, so the development install of offlineimap is out of reach.
    env = {**os.environ, "PYTHONPATH": str(SOURCE_ROOT)}
    result = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(home), "from-home", "1", "1"]


def test_nothing_found_changes_nothing(tmp_path: Path) -> None:
    code = ("import sys; from offlineimap_phantomfix.offlineimap_home import make_offlineimap_importable as m; "
            f"before = list(sys.path); print(m([{str(tmp_path)!r}]), sys.path == before)")
    env = {**os.environ, "PYTHONPATH": str(SOURCE_ROOT)}
    result = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["None", "True"]
