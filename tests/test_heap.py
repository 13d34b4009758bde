"""The JVM heap: as given, or auto from the cgroup memory limit (v2, v1) or the machine's memory."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from zkboot.start import heap

MIB = 1 << 20
GIB = 1 << 30


def tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def total_memory(monkeypatch: pytest.MonkeyPatch) -> int:
    """The machine's memory as psutil reports it: a fixed 8 GiB for the test."""
    total = 8 * GIB
    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(total=total))
    return total


# --- memory_limit --------------------------------------------------------------------------------


def test_v2_nested_from_proc_self(tmp_path: Path) -> None:
    root = tree(
        tmp_path / "cg",
        {"memory.max": "max\n", "kubepods/pod1/memory.max": "1073741824\n", "kubepods/memory.max": "4294967296\n"},
    )
    proc = tree(tmp_path, {"proc-self-cgroup": "0::/kubepods/pod1\n"}) / "proc-self-cgroup"
    assert heap.memory_limit(root, proc) == (GIB, str(root / "kubepods" / "pod1" / "memory.max"))


def test_v2_root_when_namespaced(tmp_path: Path) -> None:
    """With a cgroup namespace /proc/self/cgroup says 0::/ and the limit is at the mount's root."""
    root = tree(tmp_path / "cg", {"memory.max": "536870912\n"})
    proc = tree(tmp_path, {"self": "0::/\n"}) / "self"
    assert heap.memory_limit(root, proc) == (512 * MIB, str(root / "memory.max"))


def test_v2_no_proc_self(tmp_path: Path) -> None:
    root = tree(tmp_path / "cg", {"memory.max": "536870912\n"})
    assert heap.memory_limit(root, tmp_path / "missing") == (512 * MIB, str(root / "memory.max"))


def test_v2_max_is_unlimited(tmp_path: Path) -> None:
    root = tree(tmp_path / "cg", {"kubepods/pod1/memory.max": "max\n", "memory.limit_in_bytes": "1"})
    proc = tree(tmp_path, {"self": "0::/kubepods/pod1\n"}) / "self"
    assert heap.memory_limit(root, proc) is None


def test_v1_limit(tmp_path: Path) -> None:
    root = tree(tmp_path / "cg", {"memory/memory.limit_in_bytes": "2147483648\n"})
    proc = tree(tmp_path, {"self": "12:memory:/kubepods/pod1\n1:name=systemd:/kubepods/pod1\n"}) / "self"
    assert heap.memory_limit(root, proc) == (2 * GIB, str(root / "memory" / "memory.limit_in_bytes"))


@pytest.mark.parametrize("value", ["9223372036854771712", str(1 << 60)])
def test_v1_unlimited(tmp_path: Path, value: str) -> None:
    root = tree(tmp_path / "cg", {"memory/memory.limit_in_bytes": value + "\n"})
    assert heap.memory_limit(root, tmp_path / "missing") is None


def test_no_cgroup_at_all(tmp_path: Path) -> None:
    assert heap.memory_limit(tmp_path / "nothing", tmp_path / "missing") is None


def test_garbage_is_ignored(tmp_path: Path) -> None:
    root = tree(tmp_path / "cg", {"memory.max": "\n", "memory/memory.limit_in_bytes": "lots\n"})
    assert heap.memory_limit(root, tmp_path / "missing") is None


# --- resolve ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["512M", "2G", "1536m", "65536k"])
def test_explicit_passes_through(tmp_path: Path, size: str) -> None:
    root = tree(tmp_path / "cg", {"memory.max": "1073741824\n"})
    assert heap.resolve(size, root, tmp_path / "missing") == heap.Heap(size, "as set")


def test_auto_half_of_v2_limit(tmp_path: Path) -> None:
    root = tree(tmp_path / "cg", {"kubepods/pod1/memory.max": str(GIB)})
    proc = tree(tmp_path, {"self": "0::/kubepods/pod1\n"}) / "self"
    chosen = heap.resolve("auto", root, proc)
    assert chosen.size == "512M"
    assert "50%" in chosen.note
    assert "1024 MiB" in chosen.note
    assert str(root / "kubepods" / "pod1" / "memory.max") in chosen.note


def test_auto_rounds_down_to_mib(tmp_path: Path) -> None:
    root = tree(tmp_path / "cg", {"memory.max": "1000000000"})
    chosen = heap.resolve("auto", root, tmp_path / "missing")
    assert chosen.size == f"{500_000_000 // MIB}M" == "476M"


def test_auto_floor(tmp_path: Path) -> None:
    root = tree(tmp_path / "cg", {"memory.max": str(100 * MIB)})
    assert heap.resolve("auto", root, tmp_path / "missing").size == "64M"


def test_auto_from_v1(tmp_path: Path) -> None:
    root = tree(tmp_path / "cg", {"memory/memory.limit_in_bytes": str(3 * GIB)})
    chosen = heap.resolve("auto", root, tmp_path / "missing")
    assert chosen.size == "1536M"
    assert str(root / "memory" / "memory.limit_in_bytes") in chosen.note


def test_auto_v2_max_falls_back_to_total(tmp_path: Path, total_memory: int) -> None:
    root = tree(tmp_path / "cg", {"memory.max": "max\n"})
    chosen = heap.resolve("auto", root, tmp_path / "missing")
    assert chosen.size == f"{total_memory // 2 // MIB}M" == "4096M"
    assert "total memory" in chosen.note
    assert "8192 MiB" in chosen.note


def test_auto_v1_unlimited_falls_back_to_total(tmp_path: Path, total_memory: int) -> None:
    root = tree(tmp_path / "cg", {"memory/memory.limit_in_bytes": "9223372036854771712"})
    chosen = heap.resolve("auto", root, tmp_path / "missing")
    assert chosen.size == "4096M"
    assert "no cgroup limit" in chosen.note


def test_auto_on_this_machine() -> None:
    """Whatever the real machine says, the result is a JVM size of at least 64M."""
    chosen = heap.resolve("auto")
    assert chosen.size.endswith("M")
    assert int(chosen.size[:-1]) >= 64
    assert chosen.note.startswith("auto: 50% of ")
