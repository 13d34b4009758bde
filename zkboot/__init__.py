"""zkboot: boots Apache ZooKeeper inside a Kubernetes StatefulSet pod and answers its probes."""

__version__ = "0.1.0"
