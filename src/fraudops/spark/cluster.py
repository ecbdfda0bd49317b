"""A Spark standalone cluster (a master and a worker) from the installed pyspark, on loopback.

The tests and ``bench/spark.py`` start one to run the Spark engine the way a real cluster
does (tasks shipped to a separate worker JVM and its Python workers); a user points
``SPARK_MASTER_URL`` at their own cluster instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fraudops.procs import LOOPBACK, free_port, start_group, stop_groups, wait_http, wait_until


def spark_home() -> Path:
    """The installed pyspark package: its ``bin/spark-class`` and ``jars/``."""
    import pyspark

    return Path(pyspark.__file__).parent


def _alive_workers(ui: str) -> int:
    with urllib.request.urlopen(f"{ui}/json/", timeout=3) as resp:
        state = json.load(resp)
    return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")


@contextmanager
def standalone_cluster(
    folder: Path, *, cores: int = 2, memory: str = "2g", workers: int = 1
) -> Iterator[str]:
    """Start a master and ``workers`` workers; yield the master URL; stop them all."""
    folder.mkdir(parents=True, exist_ok=True)
    home = spark_home()
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": LOOPBACK,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_WORKER_DIR": str(folder / "work"),
        "SPARK_LOG_DIR": str(folder),
    }
    spark_class = str(home / "bin" / "spark-class")
    port, ui_port = free_port(), free_port()
    master_url = f"spark://{LOOPBACK}:{port}"
    ui = f"http://{LOOPBACK}:{ui_port}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        master = start_group(
            [spark_class, "org.apache.spark.deploy.master.Master"]
            + ["--host", LOOPBACK, "--port", str(port), "--webui-port", str(ui_port)],
            env=env,
            log=folder / "master.log",
        )
        procs.append(master)
        wait_http(f"{ui}/json/", proc=master, timeout=120)
        for i in range(workers):
            procs.append(
                start_group(
                    [spark_class, "org.apache.spark.deploy.worker.Worker", master_url]
                    + ["--host", LOOPBACK, "--cores", str(cores), "--memory", memory]
                    + ["--webui-port", str(free_port()), "--work-dir", str(folder / f"w{i}")],
                    env=env,
                    log=folder / f"worker-{i}.log",
                )
            )
        wait_until(lambda: _alive_workers(ui) >= workers, what="the Spark workers", timeout=120)
        yield master_url
    finally:
        stop_groups(procs, grace=10)
