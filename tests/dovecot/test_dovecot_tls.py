"""probe and purge over STARTTLS against a real Dovecot, with a certificate made by the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from offlineimap_phantomfix.config import PhantomConfig
from offlineimap_phantomfix.probe import run_probe
from offlineimap_phantomfix.purge import run_purge
from offlineimap_phantomfix.testing.dovecot import DovecotServer
from offlineimap_phantomfix.testing.messages import make_message
from offlineimap_phantomfix.testing.tls import make_identity

from .conftest import SetupFactory

pytestmark = pytest.mark.dovecot


def test_probe_and_purge_over_starttls(dovecot: DovecotServer, offlineimap_for_dovecot: SetupFactory,
                                       tmp_path: Path) -> None:
    identity = make_identity(tmp_path / "tls")
    dovecot.options.update({"ssl": "required", "ssl_cert": f"<{identity.certificate}",
                            "ssl_key": f"<{identity.key}"})
    dovecot.set_option("disable_plaintext_auth", "yes")  # writes the options above too, and reloads
    dovecot.populate("Work", [make_message(n) for n in range(1, 4)])
    tls = {"ssl": "no", "starttls": "yes", "sslcacertfile": str(identity.certificate)}
    config = PhantomConfig.load(offlineimap_for_dovecot("starttls", phantomsafe=True, remote_options=tls).config)

    result = run_probe(config, "Test", "Work", 2)
    assert result.delivered, result.transcript
    assert f"to 127.0.0.1:{dovecot.port} (STARTTLS, certificate not checked by offlineimap)" in result.transcript
    assert "STARTTLS" in result.transcript and dovecot.password not in result.transcript
    dovecot.make_unreadable("Work", 1)  # UID 2 becomes a phantom (a broken message file): purge's checks pass it
    done = run_purge(config, "Test", "Work", 2, yes=True)
    assert done.done and [m.uid for m in dovecot.fetch_all("Work")] == [1, 3]
