"""podsim: StatefulSet pods on one machine, for zkboot's end-to-end tests and demonstration.

Each pod gets a network namespace on a bridge of its own, a UTS namespace with its StatefulSet
hostname, the headless Service's names in its /etc/hosts, volume mounts bound to directories that
outlive it (PVCs) or not (emptyDirs), and a kubelet thread running its exec probes.  Not part of
zkboot's package: a test and demo tool that needs root.
"""
