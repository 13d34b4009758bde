"""Identity read from the system itself: a UTS namespace with a pod's hostname and a pod's /etc/hosts.

Needs root (unshare --uts --mount); CI runs as root, so there these run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import clean_env, script

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare for a private hostname"
)


def in_pod(tmp_path: Path, hostname: str, hosts: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``zkboot render ARGS`` with the given hostname and /etc/hosts, as a pod would see them."""
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text(hosts)
    command = [script("zkboot"), "render", "--zookeeper-home=/nonexistent", f"--data-dir={tmp_path}/data", *args]
    shell = 'hostname "$1" && mount --bind "$2" /etc/hosts && shift 2 && exec "$@"'
    return subprocess.run(
        ["unshare", "--uts", "--mount", "--", "sh", "-c", shell, "sh", hostname, str(hosts_file), *command],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=30,
        check=False,
    )


def test_fqdn_from_etc_hosts_gives_the_domain(tmp_path: Path) -> None:
    hosts = "127.0.0.1 localhost\n10.1.2.3 my-zk-cluster-12.zk-hs.prod.svc.example.org my-zk-cluster-12\n"
    result = in_pod(tmp_path, "my-zk-cluster-12", hosts, "--servers=13")
    assert result.returncode == 0, result.stderr
    assert "server.1=my-zk-cluster-0.zk-hs.prod.svc.example.org:2888:3888" in result.stdout
    assert "server.13=my-zk-cluster-12.zk-hs.prod.svc.example.org:2888:3888" in result.stdout
    assert f"==> {tmp_path}/data/myid <==\n13\n" in result.stdout


def test_no_fqdn_in_etc_hosts_is_an_error_with_several_servers(tmp_path: Path) -> None:
    result = in_pod(tmp_path, "zk-0", "127.0.0.1 localhost\n10.1.2.3 zk-0\n", "--servers=3")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "zkboot: error: the system hostname='zk-0' has no domain and --servers=3; expected an FQDN such as "
        "zk-0.zk-hs.default.svc.cluster.local in /etc/hosts, or --domain / ZK_DOMAIN"
    ]
    assert ".:2888" not in result.stdout


def test_no_fqdn_is_fine_standalone(tmp_path: Path) -> None:
    result = in_pod(tmp_path, "zk-0", "127.0.0.1 localhost\n10.1.2.3 zk-0\n")
    assert result.returncode == 0, result.stderr
    assert "server." not in result.stdout
    assert f"==> {tmp_path}/data/myid <==\n1\n" in result.stdout
