"""A private certificate authority for TLS on every hop (broker, services, API).

``python -m ioc certs DIR`` (and ``deploy/local/infra.sh``, which runs this file as a
script with the system's Python before the virtual environment exists) makes, once:

- ``ca.pem`` / ``ca.key``: the CA; services trust ``ca.pem`` (``IOC_MQTT_CA_FILE``);
- ``server.pem`` / ``server.key``: the broker's and the API's certificate, for the host
  names and addresses given (``localhost`` and ``127.0.0.1`` always);
- ``client.pem`` / ``client.key``: a client certificate for mutual TLS.

Files that exist are kept (a new server certificate only when the host names change),
so running it again changes nothing. It drives the ``openssl`` command (EC P-256 keys,
SHA-256) and imports nothing but the standard library. Keys are readable by their owner
only. Never commit the directory.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOSTS = ("localhost", "127.0.0.1")
CA_DAYS = 3650
LEAF_DAYS = 825  # the longest validity clients accept for a server certificate


class CertificateError(RuntimeError):
    """openssl is missing or refused; the message says which step."""


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str) -> None:
    if shutil.which("openssl") is None:
        raise CertificateError("the openssl command is not installed (apt-get install openssl)")
    done = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CertificateError(f"openssl {args[0]}: {done.stderr.strip()[-500:]}")


def _san(hosts: list[str]) -> str:
    def entry(host: str) -> str:
        is_ip = host.replace(".", "").isdigit() or ":" in host
        return f"IP:{host}" if is_ip else f"DNS:{host}"

    return ",".join(entry(h) for h in hosts)


def _make_ca(out: Path) -> None:
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-sha256", "-days", str(CA_DAYS), "-subj", "/CN=IOC private CA",
        "-keyout", str(out / "ca.key"), "-out", str(out / "ca.pem"),
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip


def _make_leaf(out: Path, name: str, common_name: str, hosts: list[str], usage: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        csr, ext = Path(tmp) / "req.csr", Path(tmp) / "ext.cnf"
        lines = [
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature,keyAgreement",
            f"extendedKeyUsage={usage}",
            "subjectKeyIdentifier=hash",
            "authorityKeyIdentifier=keyid,issuer",
        ]
        if hosts:
            lines.append(f"subjectAltName={_san(hosts)}")
        ext.write_text("\n".join(lines) + "\n")
        _openssl(
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", f"/CN={common_name}", "-keyout", str(out / f"{name}.key"), "-out", str(csr),
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(out / "ca.pem"),
            "-CAkey", str(out / "ca.key"), "-CAcreateserial", "-sha256",
            "-days", str(LEAF_DAYS), "-extfile", str(ext), "-out", str(out / f"{name}.pem"),
        )  # fmt: skip
    (out / f"{name}.hosts").write_text(",".join(hosts) + "\n")


def ensure(
    out: Path, hosts: list[str] | tuple[str, ...] = (), owner: int | None = None
) -> TlsFiles:
    """Make what is missing in ``out``; return where the files are. ``owner`` (a uid,
    when run as root) is given the directory and its files: in compose the files are
    made by root for services that run as an unprivileged user."""
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    names = list(dict.fromkeys([*DEFAULT_HOSTS, *hosts]))
    old_umask = os.umask(0o077)
    try:
        if not (out / "ca.pem").exists() or not (out / "ca.key").exists():
            _make_ca(out)
            for stale in ("server.pem", "client.pem"):
                (out / stale).unlink(missing_ok=True)
        made_for = (
            (out / "server.hosts").read_text().strip() if (out / "server.hosts").exists() else None
        )
        if not (out / "server.pem").exists() or made_for != ",".join(names):
            _make_leaf(out, "server", names[0], names, "serverAuth")
        if not (out / "client.pem").exists():
            _make_leaf(out, "client", "ioc-client", [], "clientAuth")
    finally:
        os.umask(old_umask)
    for pem in ("ca.pem", "server.pem", "client.pem"):
        os.chmod(out / pem, 0o644)  # certificates are public; keys stay 0600
    if owner is not None:
        for path in (out, *out.iterdir()):
            os.chown(path, owner, owner)
    return TlsFiles(
        ca=out / "ca.pem",
        server_cert=out / "server.pem",
        server_key=out / "server.key",
        client_cert=out / "client.pem",
        client_key=out / "client.key",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--host", action="append", default=[], help="a name in the server cert")
    parser.add_argument("--owner", type=int, help="uid (and gid) to own the files")
    args = parser.parse_args(argv)
    try:
        files = ensure(args.directory, args.host, args.owner)
    except CertificateError as exc:
        print(f"certs: {exc}", file=sys.stderr)
        return 1
    print(f"CA: {files.ca}\nserver: {files.server_cert}\nclient: {files.client_cert}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
