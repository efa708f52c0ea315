"""Splink on Spark in local mode: the person model and training plan of the DuckDB path, for national scale.

The record set is cleaned and its derived columns computed in DuckDB as always (link/records.py), so both
engines read the same rows; its tables cross to Spark as Arrow, Splink trains, scores and clusters there, and
the predictions and clusters come back as Arrow into the record set's DuckDB connection, where evaluation,
explanations and entity ids read them exactly as they read a DuckDB run's. What differs between the engines'
SQL (function names, date patterns) is Splink's dialect's business and link/settings.py's dialect-aware levels.

Spark needs Java 17 or newer (``make java`` installs Debian's) and the ``spark`` extra (pyspark 4).
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from safertogether.errors import EngineUnavailableError
from safertogether.link.model import LinkageRun
from safertogether.link.records import RecordSet

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from splink import Linker, SettingsCreator
    from splink.internals.splink_dataframe import SplinkDataFrame

MINIMUM_JAVA = 17  # Spark 4 runs on Java 17 and 21



class SparkSettings(BaseSettings):
    """The local session, sized for a 2-core machine with 24 GiB. Each field can be set as ``SAFER_SPARK_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="SAFER_SPARK_")

    cores: int | None = Field(None, ge=1, description="Cores Spark uses in local mode; all of them when unset.")
    memory: str = Field("4g", description="The driver's heap (in local mode, the whole engine's): a ceiling the JVM "
                                          "grows into (an 8g heap reached 10 GB resident on FEBRL3); leave room for "
                                          "DuckDB and Python.")
    partitions: int = Field(4, ge=1, description="Shuffle partitions. Spark's default of 200 turns each of Splink's "
                                                 "many small steps into 200 tasks; a few per core keeps them busy. "
                                                 "Raise it with the data: about one per 100 MB shuffled.")

    def session_config(self) -> dict[str, str]:
        return {
            "spark.master": f"local[{self.cores or '*'}]",
            "spark.driver.memory": self.memory,
            "spark.sql.shuffle.partitions": str(self.partitions),
            "spark.default.parallelism": str(self.partitions),
            # Local mode talks to itself only: bind to loopback and serve no web UI.
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.execution.arrow.pyspark.enabled": "true",
        }


def spark_unavailable_reason() -> str | None:
    """Why the Spark engine cannot run on this machine (with what to do), or None when it can."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed: pip install 'safertogether[spark]'"
    java = _java()
    if java is None:
        return ("Spark needs Java 17 or newer and none is installed: run `make java` (Debian's default-jre-headless) "
                "or set JAVA_HOME")
    major = _java_major(java)
    if major is not None and major < MINIMUM_JAVA:
        return f"Spark 4 needs Java {MINIMUM_JAVA} or newer; {java} is Java {major}: install a newer one, set JAVA_HOME"
    return None


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def _java_major(java: str) -> int | None:
    banner = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    found = re.search(r'version "(\d+)(?:\.(\d+))?', banner)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


@functools.cache
def spark_session() -> SparkSession:
    """The process's local SparkSession, started once (it takes 15-45 s) with Splink's similarity functions."""
    reason = spark_unavailable_reason()
    if reason:
        raise EngineUnavailableError(reason)
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    builder = SparkSession.builder.appName("safertogether-link")
    # Splink's Jaro-Winkler and Damerau-Levenshtein are Scala UDFs in a jar it ships (Splink's Spark docs).
    for key, value in {**SparkSettings().session_config(), "spark.jars": similarity_jar_location()}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    # Splink writes each step's result as Parquet under the checkpoint folder to cut Spark's lineage.
    checkpoints = tempfile.mkdtemp(prefix="safer-spark-")
    atexit.register(shutil.rmtree, checkpoints, ignore_errors=True)
    session.sparkContext.setCheckpointDir(checkpoints)
    return session


@dataclass
class SparkLinkageRun(LinkageRun):
    """A run trained and scored by Spark; predictions and clusters are copied into the record set's DuckDB
    connection when first read, so every reader of :class:`LinkageRun` works on it unchanged."""

    def __post_init__(self) -> None:
        self._copied: dict[str, str] = {}

    @property
    def predictions_table(self) -> str:
        return self._to_duckdb(self.predictions)

    def clusters(self, threshold_match_probability: float) -> str:
        clusters = self.linker.clustering.cluster_pairwise_predictions_at_threshold(
            self.predictions, threshold_match_probability=threshold_match_probability)
        return self._to_duckdb(clusters)

    def _to_duckdb(self, table: SplinkDataFrame) -> str:
        name = table.physical_name
        if name not in self._copied:
            self.records.connection.execute(f"DROP TABLE IF EXISTS {name}")
            self.records.connection.from_arrow(table.as_pyarrow_table()).to_table(name)
            self._copied[name] = name
        return self._copied[name]


def spark_linker(records: RecordSet, settings: SettingsCreator) -> Linker:
    """A Splink linker on the local Spark session over ``records``' tables, moved across as Arrow."""
    from splink import Linker, SparkAPI

    session = spark_session()
    db_api = SparkAPI(spark_session=session)
    tables = [db_api.register(_to_spark(session, records, table), table_name=f"{table}_input")
              for table in records.tables]
    return Linker(tables if len(tables) > 1 else tables[0], settings, log_level=logging.WARNING)


def _to_spark(session: SparkSession, records: RecordSet, table: str) -> str:
    """``table`` as a Spark view under a name of its own (views are shared by every run in the session)."""
    view = f"{table}_{uuid.uuid4().hex[:8]}"
    session.createDataFrame(records.connection.table(table).to_arrow_table()).createOrReplaceTempView(view)
    return view
