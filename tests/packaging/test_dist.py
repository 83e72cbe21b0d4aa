"""The sdist and the wheel: their contents, ``twine check --strict``, and the wheel installed in a fresh venv
passing the PhantomSafeIMAP end-to-end suite with no source tree on the path."""

from __future__ import annotations

import shutil
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import SOURCE_ROOT, Dists, outside_env, run

pytestmark = pytest.mark.packaging


# The wheel's data files (setup.cfg [options.data_files]): installed under the environment's share/.
DATA_FILES = {"share/man/man1/offlineimap-phantomfix.1": "man/offlineimap-phantomfix.1",
              "share/bash-completion/completions/offlineimap-phantomfix": "completions/bash/offlineimap-phantomfix",
              "share/zsh/site-functions/_offlineimap-phantomfix": "completions/zsh/_offlineimap-phantomfix"}


def test_wheel_holds_the_package_with_py_typed_and_no_tests(dists: Dists) -> None:
    wheel = zipfile.ZipFile(dists.wheel)
    names = wheel.namelist()
    assert "offlineimap_phantomfix/py.typed" in names
    assert "offlineimap_phantomfix/offlineimap_home.py" in names
    assert "offlineimap_phantomfix/testing/server/__init__.py" in names  # the emulator behind `demo`
    top = {name.split("/")[0] for name in names}
    assert top == {"offlineimap_phantomfix", "offlineimap_phantomfix-0.1.0.dist-info",
                   "offlineimap_phantomfix-0.1.0.data"}
    data = {name.removeprefix("offlineimap_phantomfix-0.1.0.data/data/"): name for name in names
            if name.startswith("offlineimap_phantomfix-0.1.0.data/")}
    assert set(data) == set(DATA_FILES), sorted(data)
    for installed, source in DATA_FILES.items():
        assert wheel.read(data[installed]) == (SOURCE_ROOT / source).read_bytes(), installed
    entry_points = wheel.read("offlineimap_phantomfix-0.1.0.dist-info/entry_points.txt").decode()
    assert "offlineimap-phantomfix = offlineimap_phantomfix.cli:main" in entry_points
    assert "offlineimap-phantomsafe = offlineimap_phantomfix.activation:run_offlineimap" in entry_points


def test_sdist_holds_what_the_tests_need(dists: Dists) -> None:
    with tarfile.open(dists.sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("README.md", "CHANGELOG.md", "pyproject.toml", "setup.cfg", "offlineimap_phantomfix/py.typed",
                   "tests/conftest.py", "tests/e2e/test_phantomsafe.py", "tests/packaging/conftest.py",
                   "patches/README.md", "patches/0001-repository-find-types-registered-as-entry-points.patch",
                   *DATA_FILES.values()):
        assert needed in names, needed
    assert not any(name.startswith(("debian/", ".ci/")) or "__pycache__" in name for name in names)


def test_twine_check_strict_passes(dists: Dists) -> None:
    result = run([sys.executable, "-m", "twine", "check", "--strict", str(dists.sdist), str(dists.wheel)])
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("PASSED") == 2, result.stdout


@pytest.mark.e2e
def test_wheel_in_a_fresh_venv_passes_the_phantomsafe_suite(dists: Dists, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = outside_env()
    assert run([sys.executable, "-m", "venv", str(venv)], env=env).returncode == 0
    python = str(venv / "bin" / "python")
    install = run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(dists.wheel), "pytest"],
                  env=env)
    assert install.returncode == 0, install.stdout

    # The tests come from the sdist; the package only from the venv.
    with tarfile.open(dists.sdist) as archive:
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(tmp_path / "sdist", **safe)  # type: ignore[arg-type]
    (root,) = (tmp_path / "sdist").iterdir()
    suite = tmp_path / "suite"
    shutil.copytree(root / "tests", suite / "tests")
    shutil.copy2(root / "pyproject.toml", suite / "pyproject.toml")
    where = run([python, "-c", "import offlineimap_phantomfix as p, offlineimap; print(p.__file__, p.__version__)"],
                cwd=str(suite), env=env)
    module, version = where.stdout.split()
    assert Path(module).is_relative_to(venv) and version == "0.1.0", where.stdout

    result = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/e2e/test_phantomsafe.py"],
                 cwd=str(suite), env=env, timeout=1200)
    assert result.returncode == 0, result.stdout
    assert " passed" in result.stdout.splitlines()[-1] and "skipped" not in result.stdout.splitlines()[-1]
