"""What the pods run.  Host mode: zkboot's commands from a bin directory (this interpreter's, or
``image_bin``) and ZooKeeper from PATH.  Image mode: a real image under podman (podsim/podman.py)."""

from __future__ import annotations

from pathlib import Path

from podsim.errors import SimulationError
from podsim.manifest import StatefulSet
from podsim.pod import fresh_paths
from podsim.podman import ImageMode

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def check_image_bin(bin_dir: Path, sts: StatefulSet) -> None:
    """SimulationError when the pods would see a fresh directory where ``bin_dir`` is: their
    container command would then fail with "zkboot: not found" and restart for ever."""
    for path, why in fresh_paths(sts).items():
        if any(seen.is_relative_to(path) for seen in (bin_dir, bin_dir.resolve())):
            raise SimulationError(
                f"the image's bin dir {bin_dir} lies under {path}, which every pod gets a fresh directory for "
                f"({why}): the pods would not find zkboot's commands there; put the venv elsewhere "
                f"(e.g. python3 -m venv /srv/zkboot-venv)"
            )


def pod_env(bin_dir: Path, image: ImageMode | None, sts: StatefulSet) -> dict[str, str]:
    """The environment a pod of ``sts`` is started with."""
    if image is not None:
        return image.store.env  # podman's own; the container's is the manifest's (--env)
    return {"PATH": f"{bin_dir}:{DEFAULT_PATH}", "HOME": "/tmp", "LANG": "C.UTF-8", **sts.env}
