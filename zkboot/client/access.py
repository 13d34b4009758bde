"""How a member's client service is reached from another pod, and where it listens.

The membership guard, the dynamic join, ``zkboot shrink`` and ``zkboot status`` ask other members
(``srvr``, ``/zookeeper/config``, ``reconfig``).  Normally that is the plain client port.  When the
plain port listens on 127.0.0.1 only (a secure client port is set), they go to the secure port
instead, over TLS with the pod's own certificate from its TLS Secret (the server needs a client
certificate signed by ``ca.crt``, and every member's certificate is one).  When the servers
require SASL of every session, zkboot's kazoo sessions authenticate as the clients' account
(DIGEST-MD5); four-letter words need no session, so ``srvr`` needs no account.  Over TLS the
peer's certificate must be signed by ``ca.crt`` and name the host dialled (the member's pod name,
``<statefulset>-<n>.<domain>``): any certificate of the CA is not enough to stand in for a member.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from zkboot.client.endpoint import Endpoint, tls_context


@dataclass(frozen=True, slots=True)
class TlsDir:
    """A mounted TLS Secret (``kubernetes.io/tls`` with its CA): where its three files are."""

    path: str

    @property
    def cert(self) -> str:
        return str(Path(self.path) / "tls.crt")

    @property
    def key(self) -> str:
        return str(Path(self.path) / "tls.key")

    @property
    def ca(self) -> str:
        return str(Path(self.path) / "ca.crt")


@dataclass(frozen=True, slots=True)
class SecurePort:
    """The secure client port, and the TLS Secret whose certificate this pod presents there."""

    port: int
    files: TlsDir


@dataclass(frozen=True, slots=True)
class Access:
    client_port: int  # the plain port
    loopback: bool = False  # the plain port listens on 127.0.0.1 only
    secure: SecurePort | None = None  # the way in from another pod: set when the plain port is on loopback
    sasl: tuple[str, str] | None = field(default=None, repr=False)  # the clients' account, when sessions need SASL

    @property
    def listen(self) -> str:
        """The plain port's address and port, as a dynamic configuration's server line has it."""
        return f"{'127.0.0.1' if self.loopback else '0.0.0.0'}:{self.client_port}"

    @property
    def port(self) -> int:
        return self.secure.port if self.secure else self.client_port

    def endpoint(self, host: str, timeout: float) -> Endpoint:
        secure = self.secure
        if secure is None:
            return Endpoint(host, self.client_port, timeout)
        files = secure.files
        context = tls_context(files.ca, files.cert, files.key, check_name=True)
        return Endpoint(host, secure.port, timeout, "tls", tls=context)

    def kazoo(self) -> dict[str, object]:
        """KazooClient's TLS and SASL arguments (none for a plain port without SASL)."""
        arguments: dict[str, object] = {}
        secure = self.secure
        if secure is not None:
            files = secure.files
            arguments.update(use_ssl=True, ca=files.ca, certfile=files.cert, keyfile=files.key)
            arguments.update(verify_certs=True, check_hostname=True)
        if self.sasl is not None:
            username, password = self.sasl
            arguments["sasl_options"] = {"mechanism": "DIGEST-MD5", "username": username, "password": password}
        return arguments
