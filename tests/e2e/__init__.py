"""End-to-end tests: zkboot's manifests booted as StatefulSet pods in the pod simulator (podsim)."""
