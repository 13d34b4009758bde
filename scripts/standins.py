#!/usr/bin/env python3
"""Fetch what the image tests build docker/Dockerfile from (standard library only; needs network).

The Dockerfile's bases come from Docker Hub and its ZooKeeper from archive.apache.org, neither of
which the project's machines reach, and the tests themselves run without a network.  So
``./dev setup`` fetches, once, the parts of local stand-ins that need Debian's or PyPI's mirrors:

* ``rootfs.tar``: a Debian bookworm root filesystem (mmdebstrap from apt's own sources file) with
  Python 3.11 and pip, Debian's OpenJDK 17 JRE, and that JRE also at ``/opt/java/openjdk`` (hard
  links), where the Temurin image has it.  The tests import it as both the ``python`` and the
  ``eclipse-temurin`` base.  pip's "externally managed" marker is removed, as the python image has
  none.
* ``wheels/``: wheels for zkboot's build backend and dependencies, for CPython 3.11 on glibc Linux
  (and the sdists of those published without a wheel), which the tests serve as the package index
  of the Dockerfile's wheels stage.

Each is remade only when what it is made from changes (a key file holds the inputs' digest).
The ZooKeeper tarball needs no network: the tests assemble it from Debian's zookeeper package.

    .venv/bin/python scripts/standins.py

Errors: one line on stderr, exit 1.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STANDINS = ROOT / ".tools" / "standins"
ROOTFS = STANDINS / "rootfs.tar"
WHEELS = STANDINS / "wheels"
APT_SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
SUITE = "bookworm"
PACKAGES = ("python3", "python3-pip", "python-is-python3", "passwd", "openjdk-17-jre-headless")
JVM = "/usr/lib/jvm/java-17-openjdk-{arch}"
HOOKS = (
    'rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED',
    'mkdir -p "$1"/opt/java && cp -al "$1"{jvm} "$1"/opt/java/openjdk',
)
# Platform tags of CPython 3.11 wheels that run on bookworm's glibc 2.36, newest first.
MANYLINUX = ("manylinux_2_28", "manylinux_2_17", "manylinux2014", "manylinux_2_12", "manylinux2010", "manylinux1")
TIMEOUT = 900.0  # seconds for mmdebstrap or pip
SDIST_ONLY = ("pure-sasl",)  # dependencies PyPI has no wheel of


class StandinError(Exception):
    """Why a stand-in could not be made: one line."""


def debian_arch() -> str:
    machine = platform.machine()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine)
    if arch is None:
        raise StandinError(f"machine {machine}: no stand-ins for it; expected x86_64 or aarch64")
    return arch


def digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def current(target: Path, key: str) -> bool:
    key_file = target.with_name(target.name + ".key")
    return target.exists() and key_file.is_file() and key_file.read_text().strip() == key


def mark(target: Path, key: str) -> None:
    target.with_name(target.name + ".key").write_text(key + "\n")


def run(argv: list[str], what: str, env: dict[str, str] | None = None) -> None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StandinError(f"{what}: {argv[0]} failed ({exc})") from None
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise StandinError(f"{what}: {argv[0]} exited {result.returncode}: {last[0]}")


def unmount_under(path: Path) -> None:
    """Detach every mount below ``path``, deepest first."""
    prefix = os.path.realpath(path) + "/"
    with open("/proc/self/mountinfo") as handle:
        points = [line.split()[4] for line in handle if line.split()[4].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)


def make_rootfs() -> None:
    sources = next((path for path in APT_SOURCES if path.is_file()), None)
    if sources is None:
        raise StandinError(f"no apt sources file: expected one of {', '.join(map(str, APT_SOURCES))}")
    if shutil.which("mmdebstrap") is None:
        raise StandinError("mmdebstrap is not installed: expected Debian's mmdebstrap package")
    arch = debian_arch()
    hooks = [hook.replace("{jvm}", JVM.format(arch=arch)) for hook in HOOKS]
    key = digest(SUITE, arch, *PACKAGES, *hooks, sources.read_text())
    if current(ROOTFS, key):
        return
    print(f"==> making the Debian {SUITE} stand-in base image (mmdebstrap, about a minute)", file=sys.stderr)
    partial = ROOTFS.with_name(ROOTFS.name + ".partial")
    partial.unlink(missing_ok=True)
    argv = ["mmdebstrap", "--quiet", "--format=tar", "--variant=minbase", f"--architectures={arch}"]
    argv.append("--include=" + ",".join(PACKAGES))
    argv += [f"--customize-hook={hook}" for hook in hooks]
    # mmdebstrap works in a temporary dir of ours: a failed run can leave a bind mount there,
    # which is undone before the dir is removed, so nothing stays mounted or behind.
    scratch = Path(tempfile.mkdtemp(prefix="mmdebstrap-", dir=STANDINS))
    try:
        # The mirror argument is apt's own sources file: the machine's mirror, whatever it is.
        env = {**os.environ, "TMPDIR": str(scratch)}
        run([*argv, SUITE, str(partial), str(sources)], "the stand-in root filesystem", env)
    finally:
        unmount_under(scratch)
        shutil.rmtree(scratch, ignore_errors=True)
    partial.replace(ROOTFS)
    mark(ROOTFS, key)


def make_wheels() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # "wheel": what pip's isolated build of an sdist without pyproject.toml asks for.
    requirements = [*project["build-system"]["requires"], "wheel", *project["project"]["dependencies"]]
    sources = [r for r in requirements if r.split(">")[0].split("=")[0].strip() in SDIST_ONLY]
    binaries = [r for r in requirements if r not in sources]
    machine = platform.machine()
    platforms = [f"{tag}_{machine}" for tag in MANYLINUX]
    key = digest(machine, *requirements, *platforms, *SDIST_ONLY)
    if current(WHEELS, key):
        return
    print("==> fetching the stand-in package index's wheels (pip download)", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=STANDINS) as scratch:
        argv = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
        argv += ["--only-binary=:all:", "--python-version=3.11", "--implementation=cp", "--dest", scratch]
        argv += [f"--platform={tag}" for tag in platforms]
        run([*argv, *binaries], "the stand-in wheels")
        if sources:  # pure Python, published as an sdist only: the Dockerfile's wheels stage builds it
            base = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps"]
            run([*base, "--no-binary=:all:", "--dest", scratch, *sources], "the stand-in sdists")
        shutil.rmtree(WHEELS, ignore_errors=True)
        os.replace(scratch, WHEELS)
        WHEELS.chmod(0o755)  # served to the build, which runs as another user than mkdtemp assumes
        Path(scratch).mkdir()  # for TemporaryDirectory's own cleanup
    mark(WHEELS, key)


def main() -> int:
    try:
        STANDINS.mkdir(parents=True, exist_ok=True)
        make_rootfs()
        make_wheels()
    except (StandinError, OSError) as exc:
        print(f"standins: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
