"""Apache Kafka 4.x in KRaft mode (one combined broker and controller), jars from Maven Central."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import subprocess
import sys
import uuid
from importlib import resources
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from deploy import connections
from deploy.connections import Connections
from deploy.errors import StackError
from deploy.local.process import ManagedProcess, require_free_port, require_tool, wait_until
from deploy.probes import metadata_ok
from edge.topics import PARTITIONS

KAFKA_VERSION = "4.4.0"

SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{host}:{controller_port}
listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}
advertised.listeners=PLAINTEXT://{host}:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data}
num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
log.segment.bytes=268435456
"""


def _libs_dir(cache: Path) -> Path:
    return cache / f"kafka-{KAFKA_VERSION}" / "libs"


def resolve_jars(cache: Path) -> Path:
    """Resolve Kafka and its runtime dependencies with mvn into the cache, once."""
    libs = _libs_dir(cache)
    if libs.is_dir() and any(libs.glob("kafka_2.13-*.jar")):
        return libs
    pom = resources.files("deploy.local") / "kafka" / "pom.xml"
    with resources.as_file(pom) as pom_path:
        copy_dependencies(pom_path, libs, f"org.apache.kafka:kafka_2.13:{KAFKA_VERSION}")
    return libs


def copy_dependencies(pom: Path, libs: Path, what: str) -> None:
    """`mvn dependency:copy-dependencies` of `pom` (runtime scope, Kafka at KAFKA_VERSION) into
    `libs`, with progress; a staging directory keeps an interrupted run from looking done."""
    mvn = require_tool("kafka", "mvn", "install Maven: apt-get install maven")
    staging = libs.with_name(libs.name + ".partial")
    staging.mkdir(parents=True, exist_ok=True)
    print(f"kafka: resolving {what} with Maven", flush=True)
    cmd = [
        mvn,
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-Dkafka.version={KAFKA_VERSION}",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    fetched, tail = 0, list[str]()
    for line in proc.stdout:
        tail = [*tail[-30:], line.rstrip()]
        if "Downloaded from" in line:
            fetched += 1
            if fetched % 10 == 0:
                print(f"kafka: {fetched} artifacts downloaded", flush=True)
    if proc.wait() != 0:
        raise StackError(f"kafka: mvn could not resolve {what}:\n" + "\n".join(tail))
    staging.rename(libs)
    print(f"kafka: {len(list(libs.glob('*.jar')))} jars in {libs}", flush=True)


class Kafka:
    name = "kafka"

    def __init__(self, run: Path, cache: Path, conn: Connections) -> None:
        self.dir = run / self.name
        self.cache = cache
        self.bootstrap = conn.kafka.bootstrap
        host, port = conn.kafka.bootstrap.rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.controller_port = self.port + 1
        self.process = ManagedProcess(self.name, self.dir, marker="kafka.Kafka")

    def _java(self, libs: Path, *args: str, heap: str = "256m") -> list[str]:
        java = require_tool(self.name, "java", "install Java 17: apt-get install openjdk-17-jre")
        return [java, f"-Xmx{heap}", "-cp", f"{libs}/*", *args]

    def up(self) -> None:
        if self.process.alive():
            # A broker started before the catalog gained a sensor type lacks its topic.
            asyncio.run(create_topics(self.bootstrap))
            return
        require_tool(self.name, "java", "install Java 17: apt-get install openjdk-17-jre")
        require_free_port(self.name, self.host, self.port)
        require_free_port(self.name + " controller", self.host, self.controller_port)
        libs = resolve_jars(self.cache)
        data = self.dir / "data"
        self.dir.mkdir(parents=True, exist_ok=True)
        props = self.dir / "server.properties"
        props.write_text(
            SERVER_PROPERTIES.format(
                host=self.host, port=self.port, controller_port=self.controller_port, data=data
            )
        )
        log4j = self.dir / "log4j2.properties"
        log4j.write_text(
            (resources.files("deploy.local") / "kafka" / "log4j2.properties").read_text()
        )
        if not (data / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
            fmt = self._java(
                libs,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(props),
                "--ignore-formatted",
            )
            done = subprocess.run(fmt, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise StackError(
                    f"kafka: formatting the storage failed:\n{done.stdout}{done.stderr}"
                )
        heap = connections.local_stack().kafka_heap
        argv = self._java(
            libs,
            f"-Xms{heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            f"-Dkafka.logs.dir={self.dir}",
            "kafka.Kafka",
            str(props),
            heap=heap,
        )
        self.process.start(argv)
        wait_until(self.healthy, "a successful metadata request", 90, self.process)
        asyncio.run(create_topics(self.bootstrap))

    def healthy(self) -> bool:
        return asyncio.run(metadata_ok(self.bootstrap))

    def detail(self) -> str:
        return f"kafka://{self.bootstrap} (KRaft, {KAFKA_VERSION})"


async def create_topics(bootstrap: str) -> None:
    """Create the project's topics with their partition counts; existing ones are kept."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, num_partitions=parts, replication_factor=1)
            for name, parts in PARTITIONS.items()
            if name not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted)
            print(f"kafka: created topics {', '.join(t.name for t in wanted)}", file=sys.stderr)
    finally:
        await admin.close()
