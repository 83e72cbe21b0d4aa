"""Fixtures of the packaging tier: the sdist and wheel, built once per run from this source tree."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCE_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Dists:
    sdist: Path
    wheel: Path


def must_run() -> bool:
    """Under CI every packaging check runs: a missing tool is a failure there, not a skip."""
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> None:
    if must_run():
        pytest.fail(f"{reason} (CI=true: this tier must run)")
    pytest.skip(reason)


def outside_env(**extra: str) -> dict[str, str]:
    """The environment minus anything that points Python at this source tree or the development venv."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not key.startswith("PIP_")}
    env.update(extra)
    return env


def run(args: list[str], *, timeout: float = 600, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; output is text (stdout and stderr together)."""
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
                          check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """``python -m build``: the sdist, then the wheel built from that sdist."""
    out = tmp_path_factory.mktemp("dist")
    result = run([sys.executable, "-m", "build", "--outdir", str(out), str(SOURCE_ROOT)], cwd=str(SOURCE_ROOT))
    assert result.returncode == 0, result.stdout
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return Dists(sdist=sdist, wheel=wheel)
