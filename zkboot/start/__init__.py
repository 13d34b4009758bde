"""The start pipeline (zkboot.start.pipeline): plan -> the volume checked -> membership -> render ->
write -> exec; docs/architecture.md walks through it."""
