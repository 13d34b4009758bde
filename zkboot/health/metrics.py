"""``mntr`` in three shapes: as ZooKeeper prints it, Prometheus exposition format, or JSON."""

from __future__ import annotations

import json
import math

INFO_KEYS = {"zk_version": "version", "zk_server_state": "server_state"}


def number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value


def to_text(mntr: dict[str, str]) -> str:
    return "".join(f"{key}\t{value}\n" for key, value in mntr.items())


def to_prometheus(mntr: dict[str, str]) -> str:
    """Numeric values as gauges named as mntr names them; version and state as labels of zk_info."""
    lines = []
    labels = ",".join(f'{label}="{_escape(mntr[key])}"' for key, label in INFO_KEYS.items() if key in mntr)
    lines += [
        "# HELP zk_info ZooKeeper version and server state (from mntr).",
        "# TYPE zk_info gauge",
        f"zk_info{{{labels}}} 1",
    ]
    for key, text in mntr.items():
        value = number(text)
        if key in INFO_KEYS or value is None:
            continue
        name = _metric_name(key)
        lines += [f"# HELP {name} ZooKeeper mntr {key}.", f"# TYPE {name} gauge", f"{name} {_format(value)}"]
    return "\n".join(lines) + "\n"


def to_json(mntr: dict[str, str]) -> str:
    document: dict[str, object] = {}
    for key, text in mntr.items():
        value = number(text)
        if value is None or key in INFO_KEYS or not math.isfinite(value):
            document[key] = text
        elif text.lstrip("+-").isdigit():
            document[key] = int(text)  # exact, however large
        else:
            document[key] = value
    return json.dumps(document, indent=2) + "\n"


RENDERERS = {"text": to_text, "prometheus": to_prometheus, "json": to_json}


def _metric_name(key: str) -> str:
    name = "".join(ch if ch.isalnum() or ch in "_:" else "_" for ch in key)
    if not name.startswith("zk_"):
        name = "zk_" + name
    return name


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() else repr(value)
