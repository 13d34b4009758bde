"""How the host reaches the pods' client service (the status table, the tests' clients): plain on
2181 unless ``over_tls()`` says otherwise."""

from __future__ import annotations

import ssl
from pathlib import Path


class ClientAccess:
    def __init__(self) -> None:
        self.port = 2181
        self.tls: ssl.SSLContext | None = None
        self.files: dict[str, str] = {}  # KazooClient's ca, certfile and keyfile
        self.sasl: dict[str, str] | None = None

    def over_tls(self, port: int, ca: Path, secret_dir: Path, sasl_dir: Path | None = None) -> None:
        """From now on reach the pods' client service on ``port`` over TLS, as a client holding
        the TLS Secret in ``secret_dir`` and trusting the CA certificate ``ca`` (no name check:
        the host dials pod IPs); with ``sasl_dir``, sessions authenticate as the account in that
        Secret (``username``, ``password``) with SASL DIGEST-MD5."""
        files = {"ca": str(ca), "certfile": str(secret_dir / "tls.crt"), "keyfile": str(secret_dir / "tls.key")}
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.load_verify_locations(files["ca"])
        context.load_cert_chain(files["certfile"], files["keyfile"])
        self.port, self.tls, self.files = port, context, files
        if sasl_dir is not None:
            account = {name: (sasl_dir / name).read_text().strip() for name in ("username", "password")}
            self.sasl = {"mechanism": "DIGEST-MD5", **account}

    def kazoo_args(self) -> dict[str, object]:
        """KazooClient's TLS and SASL arguments for the pods' client service (none over plain)."""
        arguments: dict[str, object] = {}
        if self.tls is not None:
            arguments.update(use_ssl=True, verify_certs=True, **self.files)
        if self.sasl is not None:
            arguments["sasl_options"] = self.sasl
        return arguments
