"""probe, purge and a real sync over TLS (``ssl = yes``) and STARTTLS against the emulator on 127.0.0.1.

The certificate is made by the test (:mod:`offlineimap_phantomfix.testing.tls`); the client trusts it through
``sslcacertfile`` or ``cert_fingerprint``, exactly as a user would configure a server with its own CA.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix.config import PhantomConfig
from offlineimap_phantomfix.errors import ServerError
from offlineimap_phantomfix.probe import run_probe
from offlineimap_phantomfix.purge import run_purge
from offlineimap_phantomfix.testing import (
    ACTIVATION_LINES,
    EmulatorServer,
    Fault,
    make_message,
    read_maildir,
    run_offlineimap,
    write_offlineimaprc,
)
from offlineimap_phantomfix.testing.tls import TlsIdentity, make_identity
from offlineimap_phantomfix.verdicts import Verdict

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> TlsIdentity:
    return make_identity(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def imaps(identity: TlsIdentity) -> Iterator[EmulatorServer]:
    with EmulatorServer(tls=identity.server_context()) as server:
        yield server


@pytest.fixture(scope="module")
def starttls_server(identity: TlsIdentity) -> Iterator[EmulatorServer]:
    with EmulatorServer(tls=identity.server_context(), starttls=True) as server:
        yield server


def _mailbox(server: EmulatorServer) -> int:
    server.reset()
    server.append("INBOX", make_message(1))
    uid = server.append("INBOX", make_message(2, subject="Over TLS"), fault=Fault.PLACEHOLDER)
    server.append("INBOX", make_message(3))
    return uid


def _setup(tmp_path: Path, server: EmulatorServer, name: str, options: dict[str, str]) -> Any:
    return write_offlineimaprc(tmp_path / name, port=server.port, repo_type="PhantomSafeIMAP",
                               user=server.user, password=server.password,
                               pythonfile_lines=list(ACTIVATION_LINES), remote_options=options)


def _trust(identity: TlsIdentity, how: str) -> dict[str, str]:
    if how == "cafile":
        return {"sslcacertfile": str(identity.certificate)}
    return {"cert_fingerprint": identity.fingerprint}


TLS_MODES = [("ssl", "cafile"), ("ssl", "fingerprint"), ("starttls", "cafile")]


def _server_for(mode: str, imaps: EmulatorServer, starttls_server: EmulatorServer) -> EmulatorServer:
    return imaps if mode == "ssl" else starttls_server


def _options(mode: str, identity: TlsIdentity, how: str) -> dict[str, str]:
    options = {"ssl": "yes" if mode == "ssl" else "no", "starttls": "yes" if mode == "starttls" else "no"}
    options.update(_trust(identity, how))
    return options


@pytest.mark.parametrize(("mode", "how"), TLS_MODES, ids=[f"{m}-{h}" for m, h in TLS_MODES])
def test_probe_and_purge_over_tls(tmp_path: Path, identity: TlsIdentity, imaps: EmulatorServer,
                                  starttls_server: EmulatorServer, mode: str, how: str) -> None:
    server = _server_for(mode, imaps, starttls_server)
    uid = _mailbox(server)
    setup = _setup(tmp_path, server, "rc", _options(mode, identity, how))
    config = PhantomConfig.load(setup.config)

    result = run_probe(config, "Test", "INBOX", uid)
    assert result.outcome is Verdict.PLACEHOLDER, result.transcript
    assert server.password not in result.transcript
    assert "AUTHENTICATE PLAIN\nS: +\nC: <redacted>\n" in result.transcript
    security = "TLS" if mode == "ssl" else "STARTTLS, certificate not checked by offlineimap"
    assert f"to 127.0.0.1:{server.port} ({security})" in result.transcript
    assert "EXAMINE INBOX" in result.transcript
    if mode == "starttls":
        assert "STARTTLS" in result.transcript and "Begin TLS negotiation now." in result.transcript

    dry = run_purge(config, "Test", "INBOX", uid, yes=False)
    assert not dry.done and any("would run" in line for line in dry.lines)
    done = run_purge(config, "Test", "INBOX", uid, yes=True)
    assert done.done and server.password not in done.transcript
    assert [m.uid for m in server.messages("INBOX")] == [1, 3]


def test_sync_over_tls_really_is_tls(tmp_path: Path, identity: TlsIdentity, imaps: EmulatorServer) -> None:
    _mailbox(imaps)
    setup = _setup(tmp_path, imaps, "sync", _options("ssl", identity, "cafile"))
    synced = run_offlineimap(setup)
    assert synced.returncode == 0, synced.output
    assert "Traceback" not in synced.output
    assert [m.uid for m in read_maildir(setup.maildir)["INBOX"]] == [1, 3]  # UID 2 is the placeholder

    other = make_identity(tmp_path / "other", "other")  # a CA that did not sign the server's certificate
    untrusted = _setup(tmp_path, imaps, "untrusted", {"ssl": "yes", "sslcacertfile": str(other.certificate)})
    refused = run_offlineimap(untrusted)
    assert "CERTIFICATE_VERIFY_FAILED" in refused.output, refused.output
    assert not read_maildir(untrusted.maildir).get("INBOX")


@pytest.mark.parametrize("case", ["wrong-ca", "plaintext-port", "wrong-fingerprint"])
def test_tls_failures_are_offlineimaps_one_line_reason(tmp_path: Path, identity: TlsIdentity,
                                                        imaps: EmulatorServer, case: str) -> None:
    _mailbox(imaps)
    if case == "wrong-ca":
        other = make_identity(tmp_path / "other", "other")
        options = {"ssl": "yes", "sslcacertfile": str(other.certificate)}
        server_port = imaps.port
    elif case == "wrong-fingerprint":
        options = {"ssl": "yes", "cert_fingerprint": "00" * 32}
        server_port = imaps.port
    else:
        options = {"ssl": "yes", "sslcacertfile": str(identity.certificate)}
        plain = EmulatorServer().start()
        server_port = plain.port
    try:
        setup = write_offlineimaprc(tmp_path / "rc", port=server_port, repo_type="PhantomSafeIMAP",
                                    user=imaps.user, password=imaps.password,
                                    pythonfile_lines=list(ACTIVATION_LINES), remote_options=options)
        with pytest.raises(ServerError) as raised:
            run_probe(PhantomConfig.load(setup.config), "Test", "INBOX", 2)
    finally:
        if case == "plaintext-port":
            plain.stop()
    text = str(raised.value)
    assert "\n" not in text and "Recursion" not in text
    assert text.startswith(f"cannot connect to 127.0.0.1:{server_port}: ")
    expected = {"wrong-ca": "CERTIFICATE_VERIFY_FAILED", "plaintext-port": "SSL",
                "wrong-fingerprint": "does not match configured fingerprint"}[case]
    assert expected in text, text
