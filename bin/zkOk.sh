#!python
# zkOk.sh: liveness of the ZooKeeper server on this pod (the old k8szk probe's name).
# A plain script, not a [project.scripts] entry: pip's generated wrapper imports re, which
# would cost every probe run in every pod a third more CPU than all of zkboot's own work.
from zkboot.cli.probe import zk_ok

zk_ok()
