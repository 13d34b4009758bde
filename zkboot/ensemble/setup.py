"""How this pod reaches its peers, built once: for the start's guard and join, and for what
``zkboot status`` and ``zkboot shrink`` both set up first (settings, identity, access, how to ask).

Normally a peer's plain client port; with a secure client port the plain one listens on loopback
only, and peers are reached on their secure port with this pod's own certificate (see
zkboot.client.access).  With client SASL, zkboot's sessions authenticate as the clients' account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from zkboot.client.access import Access, SecurePort, TlsDir
from zkboot.identity import Identity, derive, read_system_names
from zkboot.options import Given, ProbeOptions, Raw
from zkboot.secrets import Account, read_account
from zkboot.settings.schema import Settings


def peer_access(settings: Settings, account: Account | None = None) -> Access:
    """How this pod's zkboot reaches the other members' client service, authenticated as the
    clients' SASL ``account`` when the servers require one."""
    secure = None
    if settings.plain_loopback and settings.secure_client_port is not None and settings.tls_dir:
        secure = SecurePort(settings.secure_client_port, TlsDir(settings.tls_dir))
    sasl = (account.username, account.password) if account is not None else None
    return Access(settings.client_port, settings.plain_loopback, secure, sasl)


@dataclass(frozen=True, slots=True)
class PeerSetup:
    """What ``status`` and ``shrink`` work from."""

    settings: Settings
    identity: Identity
    access: Access
    probe: ProbeOptions  # how to ask: timeout, and for status the transport and TLS files


def prepare(settings: Settings, probe_flags: Given, environ: Mapping[str, str]) -> PeerSetup:
    """The identity as ``start`` derives it, the probe options over the settings' client and admin
    ports, and the access to the peers."""
    identity = derive(settings, None if settings.hostname else read_system_names())
    given: dict[str, str | Raw | None] = {
        "port": Raw(str(settings.client_port), settings.label("client_port")),
        "admin_port": Raw(str(settings.admin_port), settings.label("admin_port")),
    }
    given.update({name: value for name, value in probe_flags.items() if isinstance(value, str | Raw)})
    probe = ProbeOptions.resolve(given, environ)
    account = None
    if settings.client_sasl_dir:  # the servers refuse sessions without SASL: members are read as a client
        label = f"{settings.label('client_sasl_dir')}={settings.client_sasl_dir}"
        account = read_account(label, settings.client_sasl_dir, "clients'")
    return PeerSetup(settings, identity, peer_access(settings, account), probe)
