"""A throw-away TLS identity for 127.0.0.1, made with the ``openssl`` program, for the emulator.

One self-signed EC certificate (fast to make) whose subject and subjectAltName are ``127.0.0.1``, so a client
that checks names and one that checks a fingerprint both accept it when told to trust it.
"""

from __future__ import annotations

import hashlib
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TlsIdentity", "make_identity"]

HOST = "127.0.0.1"


@dataclass(frozen=True)
class TlsIdentity:
    """The certificate (PEM, also the CA file a client trusts), its key, and its SHA-256 fingerprint."""

    certificate: Path
    key: Path

    @property
    def fingerprint(self) -> str:
        """Lower-case hex SHA-256 of the DER certificate, as offlineimap's ``cert_fingerprint`` wants it."""
        pem = self.certificate.read_text(encoding="ascii")
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.certificate), str(self.key))
        return context


def make_identity(directory: Path, name: str = "emulator") -> TlsIdentity:
    """Write ``<name>.pem`` and ``<name>.key`` (mode 0600) into ``directory``. Raises RuntimeError without
    the ``openssl`` program or when it fails."""
    program = shutil.which("openssl")
    if program is None:
        raise RuntimeError("the openssl program is needed to make a test certificate")
    directory.mkdir(parents=True, exist_ok=True)
    certificate, key = directory / f"{name}.pem", directory / f"{name}.key"
    command = [program, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
               "-nodes", "-days", "2", "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST},DNS:{HOST}",
               "-keyout", str(key), "-out", str(certificate)]
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"openssl could not make a certificate: {done.stdout.decode(errors='replace')}")
    key.chmod(0o600)
    return TlsIdentity(certificate, key)
