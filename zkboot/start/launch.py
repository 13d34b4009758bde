"""Hand the process over to ``zkServer.sh start-foreground``: same PID, no child, no shell."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from zkboot.errors import EnvironmentProblem
from zkboot.start.install import Installation
from zkboot.start.settings import Settings, heap_bytes

TYPE_CHECKING = False  # typing costs every start ~2 ms to import
if TYPE_CHECKING:
    from typing import NoReturn


def argv(installation: Installation, zoo_cfg: str) -> list[str]:
    # An absolute config path: a relative one resolves against the script's own conf dir.
    return [str(installation.zkserver), "start-foreground", zoo_cfg]


def environment(base: Mapping[str, str], settings: Settings, jvmflags: Sequence[str], heap: str) -> dict[str, str]:
    """The environment that makes either layout use zkboot's conf dir, heap and log configuration.

    Upstream zkEnv.sh honours ZOOCFGDIR (and then sources our java.env, which assigns the same
    SERVER_JVMFLAGS); Debian's ignores it, but passes SERVER_JVMFLAGS through, classpath included.
    A JVMFLAGS the user set is left alone: the scripts put it after ours, so it can override.
    Upstream 3.5+ zkEnv.sh also puts ``-Xmx${ZK_SERVER_HEAP}m`` (default 1000) in front of
    SERVER_JVMFLAGS; ZK_SERVER_HEAP is set to our heap so that both say the same size.
    """
    env = dict(base)
    env["ZOOCFGDIR"] = settings.conf_dir
    env["ZOOCFG"] = "zoo.cfg"
    env["ZOO_LOG_DIR"] = settings.log_dir
    env["ZOO_LOG4J_PROP"] = f"{settings.log_level},CONSOLE"
    env["SERVER_JVMFLAGS"] = " ".join(jvmflags)
    env["ZK_SERVER_HEAP"] = str((heap_bytes(heap) or 0) >> 20)  # the heap was validated: never 0
    return env


def execute(command: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    try:
        os.execve(command[0], list(command), dict(env))
    except OSError as exc:
        raise EnvironmentProblem(
            f"{command[0]}: cannot execute ({exc.strerror}); expected an executable zkServer.sh"
        ) from None
