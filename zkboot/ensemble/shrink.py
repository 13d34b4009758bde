"""``zkboot shrink --replicas N``, run in any member of a dynamic ensemble: remove the members with
ordinal >= N in one ``reconfig``, before ``kubectl scale --replicas=N`` deletes their pods.

It waits for a write to commit under the new configuration and says who is left.  A no-op when
none of them is listed; refused (one line) when the members left could not form a quorum.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping

from zkboot.client.session import check_write, reconfigure
from zkboot.ensemble.config import Server, check_members, config_version, describe, parse_config
from zkboot.ensemble.peers import read_membership, serving_hosts
from zkboot.ensemble.setup import PeerSetup, prepare
from zkboot.errors import EnvironmentProblem, QueryError, UsageError
from zkboot.identity import Identity
from zkboot.options import Given
from zkboot.secrets import read_password
from zkboot.settings.resolve import FlagValues, resolve

SETTLE_ATTEMPTS = 60  # how often to ask whether a reconfiguration whose answer was lost committed
SETTLE_PAUSE = 0.25  # seconds between those questions (bounded in count and in time)
SETTLE_SECONDS = 15.0
COMMIT_GRACE = 5.0  # seconds beyond the peer deadline for the reconfiguration and the write check


def command(flags: FlagValues, probe_flags: Given, environ: Mapping[str, str], replicas: int) -> int:
    """The whole command: check the settings, remove the members, print one line."""
    settings = resolve(flags, environ)
    if settings.membership != "dynamic":
        raise UsageError(
            f"{settings.label('membership')}={settings.membership}: shrink changes a dynamic membership; "
            "expected --membership dynamic / ZK_MEMBERSHIP=dynamic (a static ensemble is resized stopped)"
        )
    if replicas < 1:
        raise UsageError(f"--replicas={replicas}: expected at least 1")
    setup = prepare(settings, probe_flags, environ)
    assert settings.super_password_file is not None  # dynamic membership requires it (zkboot.settings.resolve)
    password = read_password(settings.label("super_password_file"), settings.super_password_file)
    sys.stdout.write(shrink(setup, replicas, password) + "\n")
    return 0


def shrink(setup: PeerSetup, replicas: int, password: str) -> str:
    """Remove the members with ordinal >= ``replicas``; the line saying who is left."""
    identity, access, timeout = setup.identity, setup.access, setup.probe.timeout
    hosts = _asked(identity, replicas)
    found = read_membership(hosts, access, timeout)
    if found is None:
        raise EnvironmentProblem(
            f"no serving member among {', '.join(hosts)} told its membership; expected the ensemble to serve"
        )
    text, source = found
    settings = setup.settings
    servers = check_members(parse_config(text), identity, settings.server_port, settings.election_port, source)
    leaving = [s for s in servers if s.myid - setup.settings.myid_offset >= replicas]
    staying = tuple(s for s in servers if s not in leaving)
    if not leaving:
        return f"nothing to remove: {len(servers)} servers ({describe(servers)})"
    if not staying:
        raise EnvironmentProblem(f"--replicas {replicas} would remove every member; expected at least one to stay")

    up = len(serving_hosts([s.host for s in staying], access, timeout))
    need = len(staying) // 2 + 1
    if up < need:
        raise EnvironmentProblem(
            f"of the {len(staying)} members that would stay, {up} serve and {need} are needed for a quorum; "
            "refusing to remove " + ", ".join(f"server.{s.myid}" for s in leaving)
        )
    version = config_version(text)
    try:
        left = parse_config(reconfigure(
            source, access, password, timeout + COMMIT_GRACE,
            leaving=",".join(str(s.myid) for s in leaving), from_version=-1 if version is None else version,
        ))  # fmt: skip
    except QueryError as exc:
        # A leader that is among those removed steps down once the change commits, and its clients
        # lose their connection before the answer: ask the members that stay what committed.
        settled = _settled(staying, leaving, setup)
        if settled is None:
            raise EnvironmentProblem(
                f"the reconfiguration did not commit ({exc.detail}); nothing was removed"
            ) from None
        left = settled
    check_write(staying[0].host, access, timeout + COMMIT_GRACE)
    return f"removed {', '.join(f'server.{s.myid}' for s in leaving)}; {len(left)} servers left: {describe(left)}"


def _asked(identity: Identity, replicas: int) -> list[str]:
    """Whom to ask for the membership: this member first, then the pods that stay."""
    stay = [identity.pod_host(i) for i in range(replicas)]
    return [identity.fqdn, *(host for host in stay if host != identity.fqdn)]


def _settled(staying: tuple[Server, ...], leaving: list[Server], setup: PeerSetup) -> tuple[Server, ...] | None:
    """The membership once none of ``leaving`` is in it, as a member that stays tells it; None
    when no member says so within SETTLE_SECONDS (polled; bounded in count and in time)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    for _ in range(SETTLE_ATTEMPTS):
        found = read_membership([s.host for s in staying], setup.access, setup.probe.timeout)
        if found is not None:
            settings = setup.settings
            servers = parse_config(found[0])
            check_members(servers, setup.identity, settings.server_port, settings.election_port, found[1])
            if not any(s in servers for s in leaving):
                return servers
        if time.monotonic() + SETTLE_PAUSE > deadline:
            break
        time.sleep(SETTLE_PAUSE)
    return None
