"""zkboot's own progress lines on stderr: one per step, human-readable or JSON."""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO


class Reporter:
    """Writes ``<program>: <event> <detail>`` lines, or one JSON object per line."""

    def __init__(self, program: str, fmt: str = "text", stream: TextIO | None = None) -> None:
        self.program = program
        self.fmt = fmt
        self.stream = stream if stream is not None else sys.stderr

    def __call__(self, event: str, detail: str) -> None:
        if self.fmt == "json":
            record = {"ts": round(time.time(), 3), "program": self.program, "event": event, "detail": detail}
            line = json.dumps(record, sort_keys=False)
        else:
            separator = ": " if event in ("error", "warning") else " "
            line = f"{self.program}: {event}{separator}{detail}"
        self.stream.write(line + "\n")
        self.stream.flush()

    def warn(self, detail: str) -> None:
        self("warning", detail)

    def error(self, detail: str) -> None:
        self("error", detail)
