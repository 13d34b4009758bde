"""What rendered NetworkPolicy objects let in, by the rules of networking.k8s.io/v1, so that tests
judge a policy by its effect (who reaches which port of a member) rather than by its text.

A pod is its labels and namespace; ``OUTSIDE`` is a source outside the cluster (a client of a
nodePort). A namespace's labels are Kubernetes' own ``kubernetes.io/metadata.name`` plus any given.
The rules followed: a pod no policy selects (for ingress) takes everything; a selected pod takes a
connection when one rule of one selecting policy matches both its port and its source; a rule
without ``ports`` matches every port, without ``from`` every source, outside the cluster too; a
peer with a ``podSelector`` alone selects pods of the policy's namespace, with a
``namespaceSelector`` alone every pod of the namespaces it selects, with both the pods it selects
in those namespaces. What these tests never render (ipBlock, named ports, protocols other than
TCP) raises rather than being guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class Pod:
    labels: Mapping[str, str]
    namespace: str
    namespace_labels: Mapping[str, str] = field(default_factory=dict)

    def all_namespace_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace, **self.namespace_labels}


OUTSIDE = None  # a source outside the cluster


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A label selector (matchLabels, matchExpressions) against labels; {} selects everything."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in {"In", "NotIn", "Exists", "DoesNotExist"}:
            raise ValueError(f"label selector operator {op!r}")
    return True


def _port_matches(ports: Sequence[Obj] | None, port: int) -> bool:
    if not ports:
        return True
    for entry in ports:
        if entry.get("protocol", "TCP") != "TCP":
            raise ValueError(f"protocol {entry['protocol']!r} is not evaluated")
        if "port" not in entry:
            return True
        if not isinstance(entry["port"], int):
            raise ValueError(f"named port {entry['port']!r} is not evaluated")
        if entry["port"] <= port <= entry.get("endPort", entry["port"]):
            return True
    return False


def _peer_matches(peers: Sequence[Obj] | None, policy_namespace: str, source: Pod | None) -> bool:
    if not peers:
        return True
    for peer in peers:
        if "ipBlock" in peer:
            raise ValueError("ipBlock is not evaluated")
        if source is OUTSIDE:
            continue
        pods, namespaces = peer.get("podSelector"), peer.get("namespaceSelector")
        if namespaces is None:
            in_namespace = source.namespace == policy_namespace
        else:
            in_namespace = selects(namespaces, source.all_namespace_labels())
        if in_namespace and (pods is None or selects(pods, source.labels)):
            return True
    return False


def reachable(policies: Sequence[Obj], target: Pod, port: int, source: Pod | None) -> bool:
    """Whether ``source`` (a pod, or OUTSIDE) may open a TCP connection to ``target``'s ``port``
    under ``policies`` (those that name no namespace, as rendered objects do not, are applied in
    ``target``'s)."""
    applying = []
    for policy in policies:
        assert policy["kind"] == "NetworkPolicy", policy["kind"]
        if policy["metadata"].get("namespace", target.namespace) != target.namespace:
            continue
        spec = policy["spec"]
        types = spec.get("policyTypes") or ["Ingress"]
        if "Ingress" in types and selects(spec["podSelector"], target.labels):
            applying.append(spec)
    if not applying:
        return True
    return any(
        _port_matches(rule.get("ports"), port) and _peer_matches(rule.get("from"), target.namespace, source)
        for spec in applying
        for rule in spec.get("ingress") or []
    )


def policies_of(objs: Sequence[Obj]) -> list[Obj]:
    return [o for o in objs if o["kind"] == "NetworkPolicy"]
