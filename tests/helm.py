"""The Helm chart under manifests/helm/zookeeper, rendered with the pinned helm binaries.

``template(case, helm)`` runs ``helm template myzk <chart>`` with one of ``CASES``' values: the
chart's defaults, an old chart's ``--set resources.requests.memory=200Mi,servers=2`` line, a values
file from each chart users come from (tests/fixtures/helm/), Bitnami's chart 13.8.8's whole
values.yaml (rebuilt from tests/fixtures/helm/bitnami-13.8.8-keys.yaml), and the chart's own TLS,
SASL and NetworkPolicy values.  ``helm`` is ``helm`` (4.x) or ``helm3`` (3.x), both put on PATH by ``./dev``
(scripts/tools.py).  Used by tests/test_helm.py and tests/e2e/test_helm.py.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "manifests" / "helm" / "zookeeper"
FIXTURES = ROOT / "tests" / "fixtures" / "helm"
RELEASE = "myzk"
HELMS = ("helm", "helm3")  # helm 4.1 and helm 3.17, pinned by scripts/tools.py

# Bitnami's zookeeper chart 13.8.8: every key path of its values.yaml with its default.
BITNAMI_13_8_8_KEYS: dict[str, Any] = yaml.safe_load((FIXTURES / "bitnami-13.8.8-keys.yaml").read_text())


def nested(flat: dict[str, Any]) -> dict[str, Any]:
    """A values document from dotted key paths (the fixture's maps flattened with dots)."""
    doc: dict[str, Any] = {}
    for path, value in flat.items():
        *parents, last = path.split(".")
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return doc


def values_file(doc: dict[str, Any]) -> str:
    """The document in a file of its own for ``helm -f``, removed when the tests end."""
    with tempfile.NamedTemporaryFile("w", prefix="zkboot-values-", suffix=".yaml", delete=False) as out:
        yaml.safe_dump(doc, out)
    atexit.register(os.unlink, out.name)
    return out.name


# An old chart's install line: helm install --set resources.requests.memory=200Mi,servers=2 --name myzk
TWO_SERVERS = ("--set", "resources.requests.memory=200Mi,servers=2")
SECURE = (
    "--set", "tls.client.enabled=true,tls.client.existingSecret=zk-tls,tls.quorum.enabled=true",
    "--set", "sasl.quorum.enabled=true,sasl.quorum.existingSecret=zk-quorum-sasl,fipsMode=off",
    "--set", "sasl.client.enabled=true,sasl.client.existingSecret=zk-client-sasl",
    "--set", "networkPolicy.enabled=true,networkPolicy.allowExternal=false",
)  # fmt: skip
CASES: dict[str, tuple[str, ...]] = {
    "defaults": (),
    "two-servers": TWO_SERVERS,
    "incubator-0.x": ("-f", str(FIXTURES / "incubator-0.x-values.yaml")),
    "incubator-2.x": ("-f", str(FIXTURES / "incubator-2.x-values.yaml")),
    "bitnami": ("-f", str(FIXTURES / "bitnami-values.yaml")),
    "bitnami-13.8.8": ("-f", values_file(nested(BITNAMI_13_8_8_KEYS))),
    "secure": SECURE,
}

Obj = dict[str, Any]


def binary(helm: str) -> str:
    found = shutil.which(helm)
    if found is None:
        pytest.fail(f"{helm} is not on PATH: ./dev setup puts the pinned helm binaries in .tools/bin")
    return found


def run(helm: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([binary(helm), *args], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{helm} {' '.join(args)} took more than {timeout:g} s")


@functools.cache
def _template(args: tuple[str, ...], helm: str) -> str:
    done = run(helm, "template", RELEASE, str(CHART), *args)
    if done.returncode != 0:
        pytest.fail(f"{helm} template {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def template_text(case: str, helm: str = "helm") -> str:
    return _template(CASES[case], helm)


def objects(text: str) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def template(case: str, helm: str = "helm") -> list[Obj]:
    """The objects ``helm template`` renders for one case (a fresh copy each call)."""
    return objects(template_text(case, helm))
