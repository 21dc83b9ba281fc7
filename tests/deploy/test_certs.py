"""The local broker's CA and server certificate: pure, checked with in-memory TLS handshakes."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import pytest

from deploy.local import certs


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def handshake(files: certs.TLSFiles, ca: Path, hostname: str) -> None:
    """A full TLS handshake between the server's certificate and a client trusting `ca`."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(files.server_cert, files.server_key)
    client_ctx = ssl.create_default_context(cafile=str(ca))
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, end, out, peer in (
            ("client", client, c_out, s_in),
            ("server", server, s_out, c_in),
        ):
            if not done[name]:
                try:
                    end.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
            peer.write(out.read())
        if all(done.values()):
            return
    raise AssertionError(f"handshake did not finish: {done}")


def test_ca_and_server_certificate_verify_for_every_host(tmp_path: Path) -> None:
    files = certs.ensure(tmp_path / "tls", ["127.0.0.1", "localhost"])
    for host in ("127.0.0.1", "localhost"):
        handshake(files, files.ca_cert, host)
    with pytest.raises(ssl.SSLCertVerificationError, match=r"[Hh]ostname mismatch"):
        handshake(files, files.ca_cert, "broker.example")


@pytest.mark.parametrize(
    ("name", "mode"),
    [("ca.key", 0o600), ("server.key", 0o600), ("ca.pem", 0o644), ("server.pem", 0o644)],
)
def test_private_keys_are_owner_only(tmp_path: Path, name: str, mode: int) -> None:
    certs.ensure(tmp_path, ["127.0.0.1"])
    assert _mode(tmp_path / name) == mode


def test_another_ca_is_not_trusted(tmp_path: Path) -> None:
    files = certs.ensure(tmp_path / "broker", ["127.0.0.1"])
    other = certs.TLSFiles(tmp_path / "other")
    certs.make_ca(other)
    with pytest.raises(ssl.SSLCertVerificationError, match=r"self.signed|unable to get local"):
        handshake(files, other.ca_cert, "127.0.0.1")


def test_ensure_keeps_the_ca_and_reissues_only_when_hosts_change(tmp_path: Path) -> None:
    files = certs.ensure(tmp_path, ["127.0.0.1"])
    ca, server = files.ca_cert.read_bytes(), files.server_cert.read_bytes()
    certs.ensure(tmp_path, ["127.0.0.1"])
    assert (files.ca_cert.read_bytes(), files.server_cert.read_bytes()) == (ca, server)
    certs.ensure(tmp_path, ["127.0.0.1", "gw-host.local"])
    assert files.ca_cert.read_bytes() == ca  # clients that trust the CA stay valid
    assert files.server_cert.read_bytes() != server
    handshake(files, files.ca_cert, "gw-host.local")


def test_a_new_ca_gets_a_new_server_certificate(tmp_path: Path) -> None:
    files = certs.ensure(tmp_path, ["127.0.0.1"])
    files.ca_key.unlink()  # e.g. a partly deleted run directory
    certs.ensure(tmp_path, ["127.0.0.1"])
    handshake(files, files.ca_cert, "127.0.0.1")


def test_write_secret_tightens_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("old")
    path.chmod(0o644)
    certs.write_secret(path, b"new")
    assert (path.read_bytes(), _mode(path)) == (b"new", 0o600)
