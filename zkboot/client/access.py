"""How a member's client service is reached from another pod, and where it listens.

The membership guard, the dynamic join, ``zkboot shrink`` and ``zkboot status`` ask other members
(``srvr``, ``/zookeeper/config``, ``reconfig``).  Normally that is the plain client port.  When the
plain port listens on 127.0.0.1 only (a secure client port is set), they go to the secure port
instead, over TLS with the pod's own certificate from its TLS Secret (the server needs a client
certificate signed by ``ca.crt``, and every member's certificate is one).  When the servers
require SASL of every session, zkboot's kazoo sessions authenticate as the clients' account
(DIGEST-MD5); four-letter words need no session, so ``srvr`` needs no account.  The server's name is
not checked against its certificate: the peer was chosen by its StatefulSet name, and the CA is
the ensemble's own.
"""

from __future__ import annotations

from zkboot.client.endpoint import Endpoint, tls_context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from zkboot.start.tls import TlsDir


class Access:
    def __init__(
        self,
        client_port: int,
        loopback: bool = False,
        secure: tuple[int, TlsDir] | None = None,
        sasl: tuple[str, str] | None = None,
    ) -> None:
        self.client_port = client_port  # the plain port
        self.loopback = loopback  # the plain port listens on 127.0.0.1 only
        self.secure = secure if loopback else None  # (port, files): the way in from another pod
        self.sasl = sasl  # (username, password): the clients' account, when sessions need SASL

    @property
    def listen(self) -> str:
        """The plain port's address and port, as a dynamic configuration's server line has it."""
        return f"{'127.0.0.1' if self.loopback else '0.0.0.0'}:{self.client_port}"

    @property
    def port(self) -> int:
        return self.secure[0] if self.secure else self.client_port

    def endpoint(self, host: str, timeout: float) -> Endpoint:
        if self.secure is None:
            return Endpoint(host, self.client_port, timeout)
        port, files = self.secure
        return Endpoint(host, port, timeout, "tls", tls=tls_context(files.ca, files.cert, files.key))

    def kazoo(self) -> dict[str, object]:
        """KazooClient's TLS and SASL arguments (none for a plain port without SASL)."""
        arguments: dict[str, object] = {}
        if self.secure is not None:
            files = self.secure[1]
            arguments.update(use_ssl=True, ca=files.ca, certfile=files.cert, keyfile=files.key, verify_certs=True)
        if self.sasl is not None:
            username, password = self.sasl
            arguments["sasl_options"] = {"mechanism": "DIGEST-MD5", "username": username, "password": password}
        return arguments
