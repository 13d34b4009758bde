"""Certificates for podsim's TLS Secrets: a CA, and leaves it signs, made with the ``openssl`` command.

Standard library and ``openssl`` only: podsim must not need a package zkboot's tests do not already
have.  What is made is what cert-manager's CA issuer (and a ``kubectl create secret tls`` user with
a CA of their own) gives a StatefulSet: RSA 2048 keys (cert-manager's default, which every TLS
stack, ZooKeeper's PEM key store included, reads) in PKCS#8 PEM (``BEGIN PRIVATE KEY``), a
self-signed CA, and leaves with subjectAltName entries and both serverAuth and clientAuth (a
ZooKeeper member serves clients and connects to its peers with the same certificate).  Everything
is valid for VALID_DAYS from now: longer than any run, short enough that a leftover is worthless.

Each function writes ``<name>.crt`` and ``<name>.key`` (0600) into ``directory`` whole or not at
all (made in a scratch directory beside them, then renamed), and returns their paths.  Errors are
ValueErrors of one line: what was being made, and openssl's last line on stderr.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

OPENSSL_TIMEOUT = 30.0  # seconds per openssl run: an RSA 2048 key takes well under one
VALID_DAYS = 2
KEY_BITS = 2048
CN_MAX = 64  # characters: X.520's upper bound for a commonName
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a file stem, and safe as a value in openssl's config
LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
DNS_NAME = re.compile(rf"(\*\.)?{LABEL}(\.{LABEL})*")  # a host name, or a wildcard over one label

CA_CONFIG = """\
[req]
prompt = no
distinguished_name = subject
x509_extensions = ca
[subject]
CN = {cn}
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

LEAF_CONFIG = """\
[req]
prompt = no
distinguished_name = subject
[subject]
CN = {cn}
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @names
[names]
{names}
"""


def openssl(what: str, *args: str) -> None:
    """Run ``openssl args``; a one-line ValueError naming ``what`` when it fails or hangs."""
    try:
        result = subprocess.run(
            ["openssl", *args], capture_output=True, text=True, timeout=OPENSSL_TIMEOUT, check=False
        )
    except FileNotFoundError:
        raise ValueError(f"{what}: no openssl command on PATH") from None
    except subprocess.TimeoutExpired:
        raise ValueError(f"{what}: openssl {args[0]} took more than {OPENSSL_TIMEOUT:g}s") from None
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit status {result.returncode}"
        raise ValueError(f"{what}: openssl {args[0]} failed: {last}")


def checked_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise ValueError(f"certificate name {name!r}: expected letters, digits, '.', '_' and '-'")
    return name


def new_key(what: str, path: Path) -> None:
    """An RSA key in PKCS#8 PEM: genpkey writes no other form, whatever the openssl version."""
    openssl(what, "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{KEY_BITS}", "-out", str(path))


def publish(scratch: Path, directory: Path, name: str) -> tuple[Path, Path]:
    """Move ``scratch``'s cert and key to ``directory`` (key first, 0600: a cert never names a missing key)."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    (scratch / "key.pem").chmod(0o600)
    os.replace(scratch / "key.pem", key)
    os.replace(scratch / "cert.pem", cert)
    return cert, key


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed CA named ``name`` (its commonName too): ``(cert, key)`` under ``directory``."""
    checked_name(name)
    what = f"CA {name}"
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=directory) as made:
        scratch = Path(made)
        (scratch / "ca.cnf").write_text(CA_CONFIG.format(cn=name[:CN_MAX]))
        new_key(what, scratch / "key.pem")
        openssl(what, "req", "-new", "-x509", "-config", str(scratch / "ca.cnf"), "-key", str(scratch / "key.pem"),
                "-sha256", "-days", str(VALID_DAYS), "-out", str(scratch / "cert.pem"))  # fmt: skip
        return publish(scratch, directory, name)


def make_leaf(
    directory: Path, name: str, ca_cert: Path, ca_key: Path, dns_names: Sequence[str], ip_addresses: Sequence[str]
) -> tuple[Path, Path]:
    """A key and a certificate for ``dns_names`` and ``ip_addresses`` (its subjectAltName, which is
    what clients check; its commonName is ``name``), signed by the CA ``ca_cert``/``ca_key``, for
    both serving and client authentication: ``(cert, key)`` under ``directory``."""
    checked_name(name)
    what = f"certificate {name}"
    bad = [dns for dns in dns_names if not DNS_NAME.fullmatch(dns)]
    if bad:
        raise ValueError(f"{what}: not DNS names: {', '.join(map(repr, bad))}")
    try:
        addresses = [str(ipaddress.ip_address(address)) for address in ip_addresses]
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
    if not dns_names and not addresses:
        raise ValueError(f"{what}: a certificate needs at least one DNS name or IP address")
    names = [f"DNS.{n} = {dns}" for n, dns in enumerate(dns_names, 1)]
    names += [f"IP.{n} = {address}" for n, address in enumerate(addresses, 1)]
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=directory) as made:
        scratch = Path(made)
        config = scratch / "leaf.cnf"
        config.write_text(LEAF_CONFIG.format(cn=name[:CN_MAX], names="\n".join(names)))
        new_key(what, scratch / "key.pem")
        openssl(what, "req", "-new", "-config", str(config), "-key", str(scratch / "key.pem"),
                "-out", str(scratch / "leaf.csr"))  # fmt: skip
        # A random serial (no serial file to keep): unique among the leaves one CA signs.
        serial = str(secrets.randbits(120) | 1)
        openssl(what, "x509", "-req", "-in", str(scratch / "leaf.csr"), "-CA", str(ca_cert), "-CAkey", str(ca_key),
                "-set_serial", serial, "-sha256", "-days", str(VALID_DAYS), "-extfile", str(config),
                "-extensions", "leaf", "-out", str(scratch / "cert.pem"))  # fmt: skip
        return publish(scratch, directory, name)
