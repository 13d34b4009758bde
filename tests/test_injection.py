"""What zkboot accepts, the shell and Java's Properties read as given.

tests/test_bad_input.py shows what is refused (each character class a shell or Java's Properties
would read otherwise); here the rest of printable ASCII goes through a real start's files and is
read back by the readers ZooKeeper has: ``sh`` sourcing java.env (as upstream's zkEnv.sh does) and
splitting ``$SERVER_JVMFLAGS`` (as zkServer.sh does), and the JDK's ``Properties.load`` of an
InputStream (as ZooKeeper's QuorumPeerConfig reads zoo.cfg).
"""

from __future__ import annotations

import shutil
import string
import subprocess
from pathlib import Path

import pytest

from tests.helpers import clean_env, script

# Every printable ASCII character a path may hold (all but white space, '/' and " $ ` \ * ? [),
# and every one a --set value may hold (all but '\' and ';', which separates entries).
PATH_CHARS = "".join(c for c in string.printable if not c.isspace() and c not in '/"$`\\*?[')
VALUE_CHARS = "".join(c for c in string.printable if not c.isspace() and c not in "\\;")
READ_CFG = """\
import java.io.FileInputStream;
import java.io.InputStream;
import java.util.Properties;

public class ReadCfg {
    public static void main(String[] args) throws Exception {
        Properties cfg = new Properties();
        try (InputStream in = new FileInputStream(args[0])) {
            cfg.load(in);
        }
        for (int i = 1; i < args.length; i++) {
            System.out.println(cfg.getProperty(args[i]));
        }
    }
}
"""


@pytest.mark.skipif(shutil.which("java") is None, reason="needs a JDK's java")
def test_every_accepted_character_is_read_back_as_given(tmp_path: Path) -> None:
    odd = tmp_path / f"a{PATH_CHARS}z"
    value = f"v {VALUE_CHARS} w"
    env = clean_env(
        None,
        ZK_HOSTNAME="zk-0",
        ZK_CONF_DIR=str(tmp_path / "conf"),
        ZK_DATA_DIR=str(odd / "data"),
        ZK_DATA_LOG_DIR=str(odd / "datalog"),
        ZK_LOG_DIR=str(odd / "log"),
    )
    result = subprocess.run(
        [script("zkGenConfig.sh"), "--servers=1", f"--set=zookeeper.zkbootCheck={value}", "--zookeeper-home=/none"],
        capture_output=True, text=True, env=env, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    conf = tmp_path / "conf"

    (conf / "ReadCfg.java").write_text(READ_CFG)
    keys = ["dataDir", "dataLogDir", "zookeeper.zkbootCheck"]
    java = [shutil.which("java") or "java", str(conf / "ReadCfg.java"), str(conf / "zoo.cfg"), *keys]
    read = subprocess.run(java, capture_output=True, text=True, timeout=60, check=False)
    assert read.returncode == 0, read.stderr
    assert read.stdout.splitlines() == [str(odd / "data"), str(odd / "datalog"), value]

    # sh: java.env sourced, then $SERVER_JVMFLAGS unquoted, as zkServer.sh expands it.
    shell = '. "$1" && printf "%s\\n" "$ZOO_LOG_DIR" && set -- $SERVER_JVMFLAGS && printf "%s\\n" "$@"'
    sourced = subprocess.run(
        ["sh", "-c", shell, "sh", str(conf / "java.env")],
        capture_output=True, text=True, timeout=10, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert sourced.returncode == 0, sourced.stderr
    log_dir, *flags = sourced.stdout.splitlines()
    assert log_dir == str(odd / "log")
    assert f"-Dzookeeper.log.dir={odd / 'log'}" in flags
    # Nothing was run: only zkboot's dirs are there.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["conf", odd.name])
