"""The pinned kubectl and helm that scripts/tools.py installs (``./dev setup``) are the ones this
test run uses: ``./dev test`` puts .tools/bin first on PATH, so the manifest tests and the pod
simulator render with the pinned kubectl, not whatever the machine has.  No network: this only
looks at what is installed, and skips when nothing is (except in CI, where setup must have run)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "tools.py"


def load_tools() -> ModuleType:
    """scripts/tools.py as a module: its pins are the expectation, kept in one place."""
    spec = importlib.util.spec_from_file_location("zkboot_dev_tools", SCRIPT)
    assert spec is not None and spec.loader is not None, SCRIPT
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


tools = load_tools()


@pytest.fixture(scope="module")
def bin_dir() -> Path:
    if not tools.BIN_DIR.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{tools.BIN_DIR} is missing in CI: ./dev setup runs scripts/tools.py, which installs it")
        pytest.skip(f"{tools.BIN_DIR} is missing: ./dev setup (or scripts/tools.py) installs it")
    return Path(tools.BIN_DIR)


@pytest.mark.parametrize("tool", tools.TOOLS, ids=[t.name for t in tools.TOOLS])
def test_first_on_path_is_the_pinned_tool(bin_dir: Path, tool: Any) -> None:
    found = shutil.which(tool.name)
    assert found is not None, f"{tool.name} is not on PATH"
    assert Path(found).resolve() == (bin_dir / tool.name).resolve(), (
        f"{found} comes first on PATH, not {bin_dir}: run the tests through ./dev test"
    )
    done = subprocess.run([found, *tool.command], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert tool.report(done.stdout) == tool.version, done.stdout


def test_pinned_kubectl_renders_the_base_kustomization(bin_dir: Path) -> None:
    kubectl = shutil.which("kubectl")
    assert kubectl is not None and Path(kubectl).resolve() == (bin_dir / "kubectl").resolve(), kubectl
    done = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "manifests" / "base")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    kinds = {line.removeprefix("kind: ") for line in done.stdout.splitlines() if line.startswith("kind: ")}
    assert "StatefulSet" in kinds and "Service" in kinds, sorted(kinds)
