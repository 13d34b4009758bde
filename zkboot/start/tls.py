"""TLS from a mounted Secret: the files checked at start, and ZooKeeper's PEM key store made of them.

The directory has the shape of a ``kubernetes.io/tls`` Secret with its CA, as cert-manager and
``kubectl create secret tls`` (plus ``ca.crt``) make it: ``tls.crt`` (the certificate, maybe
followed by its chain), ``tls.key`` (its key) and ``ca.crt`` (the CA that signs the ensemble's and
the clients' certificates).  ZooKeeper (3.5.5+) reads PEM stores directly, but its key store must
hold a PKCS#8 key: given cert-manager's default PKCS#1 RSA key (``BEGIN RSA PRIVATE KEY``) or an
OpenSSL EC key (``BEGIN EC PRIVATE KEY``), ZooKeeper 3.8 starts and then fails every handshake
("algid parse error").  So zkboot writes the key store itself, at every start, in the conf dir
(mode 0600): the key re-wrapped as PKCS#8 when it is not, then the certificates.

Checked before anything is written, each a one-line error naming the setting and the file: every
file present and readable; the certificate not expired (nor not yet valid); the key matching the
certificate and the certificate signed by ``ca.crt`` (one TLS handshake in memory, no socket);
an encrypted key refused (a Secret holds no passphrase for it).
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import re
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path

from zkboot.client.access import TlsDir
from zkboot.errors import EnvironmentProblem
from zkboot.settings.schema import Settings

PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.DOTALL)
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
EC_PUBLIC_KEY = "1.2.840.10045.2.1"


# -- DER, as much as certificates and keys need ---------------------------------------------------


def _element(data: bytes, at: int) -> tuple[int, bytes, int]:
    """(tag, content, end) of the DER element starting at ``at``."""
    if at + 2 > len(data):
        raise ValueError("truncated DER")
    tag, length, at = data[at], data[at + 1], at + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or at + count > len(data):
            raise ValueError("bad DER length")
        length, at = int.from_bytes(data[at : at + count], "big"), at + count
    if at + length > len(data):
        raise ValueError("truncated DER")
    return tag, data[at : at + length], at + length


def _children(content: bytes) -> list[tuple[int, bytes]]:
    items, at = [], 0
    while at < len(content):
        tag, value, at = _element(content, at)
        items.append((tag, value))
    return items


def _encode(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(part) for part in dotted.split("."))
    body = bytearray([first * 40 + second])
    for number in rest:
        chunk = [number & 0x7F]
        number >>= 7
        while number:
            chunk.append(0x80 | (number & 0x7F))
            number >>= 7
        body += bytes(reversed(chunk))
    return _encode(0x06, bytes(body))


def _time(tag: int, value: bytes) -> float:
    text = value.decode("ascii").rstrip("Z")
    if tag == 0x17:  # UTCTime: two-digit years, 1950-2049
        year = int(text[:2])
        text = str(year + (1900 if year >= 50 else 2000)) + text[2:]
    return float(calendar.timegm(time.strptime(text[:14], "%Y%m%d%H%M%S")))


def validity(der: bytes) -> tuple[float, float]:
    """(notBefore, notAfter) of a DER certificate, as epoch seconds."""
    certificate = _children(_element(der, 0)[1])[0][1]  # tbsCertificate
    fields = _children(certificate)
    if fields and fields[0][0] == 0xA0:  # [0] version
        fields = fields[1:]
    not_before, not_after = _children(fields[3][1])[:2]
    return _time(*not_before), _time(*not_after)


def pkcs8(kind: str, der: bytes) -> bytes:
    """The key as a PKCS#8 PrivateKeyInfo (what ZooKeeper's PEM reader accepts)."""
    if kind == "PRIVATE KEY":
        return der
    version = _encode(0x02, b"\x00")
    if kind == "RSA PRIVATE KEY":
        algorithm = _encode(0x30, _oid(RSA_ENCRYPTION) + _encode(0x05, b""))
        return _encode(0x30, version + algorithm + _encode(0x04, der))
    if kind == "EC PRIVATE KEY":
        parameters = [value for tag, value in _children(_element(der, 0)[1]) if tag == 0xA0]
        if not parameters:
            raise ValueError("an EC key without its curve")
        algorithm = _encode(0x30, _oid(EC_PUBLIC_KEY) + parameters[0])
        return _encode(0x30, version + algorithm + _encode(0x04, der))
    raise ValueError(f"a {kind.lower()}")


def _pem(kind: str, der: bytes) -> str:
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----\n"


def _blocks(text: str) -> list[tuple[str, bytes]]:
    found = []
    for match in PEM_BLOCK.finditer(text):
        try:
            found.append((match.group(1), base64.b64decode(re.sub(r"\s+", "", match.group(2)), validate=True)))
        except ValueError:
            found.append((match.group(1), b""))
    return found


# -- the checks and the key store -------------------------------------------------------------


def _read(label: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not PEM text"
        raise EnvironmentProblem(f"{label}: {path}: cannot read ({reason}); expected a PEM file") from None


def keystore(label: str, files: TlsDir, now: float | None = None) -> str:
    """Check the Secret's files; the PEM key store text (PKCS#8 key, then the certificates)."""
    cert_text, key_text, ca_text = _read(label, files.cert), _read(label, files.key), _read(label, files.ca)
    certificates = [der for kind, der in _blocks(cert_text) if kind == "CERTIFICATE" and der]
    if not certificates:
        raise EnvironmentProblem(f"{label}: {files.cert} holds no certificate; expected a PEM certificate")
    if not any(kind == "CERTIFICATE" for kind, _ in _blocks(ca_text)):
        raise EnvironmentProblem(f"{label}: {files.ca} holds no certificate; expected the CA's PEM certificate")
    keys = [(kind, der) for kind, der in _blocks(key_text) if kind.endswith("PRIVATE KEY")]
    if len(keys) != 1 or not keys[0][1]:
        raise EnvironmentProblem(f"{label}: {files.key} holds {len(keys)} private keys; expected one PEM key")
    kind, der = keys[0]
    if kind == "ENCRYPTED PRIVATE KEY":
        raise EnvironmentProblem(f"{label}: {files.key} is encrypted; expected an unencrypted key, as in a Secret")
    try:
        not_before, not_after = validity(certificates[0])
        key = pkcs8(kind, der)
    except (ValueError, IndexError) as exc:
        raise EnvironmentProblem(f"{label}: {files.cert} or {files.key}: cannot parse ({exc})") from None
    moment = time.time() if now is None else now
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(not_after))
    if not_after < moment:
        raise EnvironmentProblem(f"{label}: {files.cert} expired at {stamp}; expected a certificate valid now")
    if not_before > moment:
        start = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(not_before))
        raise EnvironmentProblem(f"{label}: {files.cert} is not valid before {start}; expected one valid now")
    _handshake(label, files)
    return _pem("PRIVATE KEY", key) + "".join(_pem("CERTIFICATE", der) for der in certificates)


def _handshake(label: str, files: TlsDir) -> None:
    """The key fits the certificate, and ``ca.crt`` signed it: one TLS handshake between two
    in-memory ends, the certificate's side serving and the CA's side verifying."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        server.load_cert_chain(files.cert, files.key)
    except ssl.SSLError as exc:
        raise EnvironmentProblem(
            f"{label}: {files.key} does not match {files.cert} ({exc.reason}); expected the certificate's own key"
        ) from None
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False  # the names are the peers' business; the signature is checked here
    client.load_verify_locations(files.ca)
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_end = server.wrap_bio(to_server, to_client, server_side=True)
    client_end = client.wrap_bio(to_client, to_server)
    for _ in range(10):  # a TLS 1.3 handshake takes two round trips
        try:
            client_end.do_handshake()
            return
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLCertVerificationError as exc:
            raise EnvironmentProblem(
                f"{label}: {files.cert} is not signed by {files.ca} ({exc.verify_message}); "
                "expected a certificate from that CA"
            ) from None
        try:
            server_end.do_handshake()
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError:
            break
    raise EnvironmentProblem(f"{label}: {files.cert} and {files.key}: no TLS handshake with them in memory")


@dataclass(frozen=True, slots=True)
class KeyStore:
    """A key store zkboot writes, and the Secret it was made from."""

    role: str  # client or quorum
    label: str  # the setting naming the Secret, with its value, for messages
    source: str  # the Secret's dir
    text: str | None = field(repr=False)  # the PEM key store; None in ``render`` when the Secret is unusable
    fingerprint: str = field(repr=False)  # of the Secret's files, taken before ``text`` was made of them


def fingerprint(files: TlsDir) -> str:
    """A digest of the Secret's three files as they are now ("" when one cannot be read): what the
    renewal check compares.  Taken before the files are read for a key store, so that a renewal
    landing in between is seen as a change, never missed."""
    digest = hashlib.sha256()
    for path in (files.cert, files.key, files.ca):
        try:
            content = Path(path).read_bytes()
        except OSError:
            return ""
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()


def read_keystores(settings: Settings, need: bool) -> tuple[tuple[KeyStore, ...], tuple[str, ...]]:
    """The key stores for the TLS settings in effect, checked; with ``need`` False (``render``) an
    unreadable or bad Secret gives a warning and a None text instead of stopping."""
    wanted: dict[str, tuple[str, str]] = {}
    if settings.secure_client_port is not None and settings.tls_dir:
        wanted["client"] = ("tls_dir", settings.tls_dir)
    quorum = settings.quorum_tls_files
    if quorum is not None:
        wanted["quorum"] = ("quorum_tls_dir" if settings.quorum_tls_dir else "tls_dir", quorum)
    stores = []
    notes = []
    for role, (name, path) in wanted.items():
        label, files = f"{settings.label(name)}={path}", TlsDir(path)
        seen = fingerprint(files)
        text: str | None = None
        try:
            text = keystore(label, files)
        except EnvironmentProblem as exc:
            if need:
                raise
            notes.append(f"{exc.problems[0]}; shown anyway: where the {role} key store goes")
        stores.append(KeyStore(role, label, path, text, seen))
    return tuple(stores), tuple(notes)
