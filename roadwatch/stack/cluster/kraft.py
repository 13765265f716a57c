"""Three Kafka nodes on one host, each broker and controller, one static three-voter KRaft quorum."""

from __future__ import annotations

import logging
from pathlib import Path

from roadwatch.errors import StackError
from roadwatch.stack import broker, versions
from roadwatch.stack.cluster.settings import ClusterSettings
from roadwatch.stack.daemon import Daemon
from roadwatch.stack.jars import kafka_classpath

log = logging.getLogger(__name__)


def node_ids(s: ClusterSettings) -> list[int]:
    return list(range(1, len(s.kafka_ports) + 1))


def node(s: ClusterSettings, node_id: int) -> Daemon:
    """Node `node_id`'s process: `kafka-<id>.pid`, `kafka-<id>.log` under the cluster's home."""
    return Daemon(f"kafka-{node_id}", s.home)


def data_dir(s: ClusterSettings, node_id: int) -> Path:
    return s.home / f"kafka-{node_id}-data"


def voters(s: ClusterSettings) -> str:
    """`controller.quorum.voters`: every node, its controller listener on the port after its client one."""
    return ",".join(f"{n}@{s.host}:{s.kafka_ports[n - 1] + 1}" for n in node_ids(s))


def node_properties(s: ClusterSettings, node_id: int) -> str:
    """Node `node_id`'s configuration: PLAINTEXT for clients and between brokers, its own controller
    listener, the quorum of all nodes, and internal topics replicated like the pipeline's."""
    if s.replication > len(s.kafka_ports) or s.min_insync > s.replication:
        raise StackError(
            f"replication {s.replication} / min_insync {s.min_insync} do not fit {len(s.kafka_ports)} nodes"
        )
    port = s.kafka_ports[node_id - 1]
    return "\n".join(
        [
            "process.roles=broker,controller",
            f"node.id={node_id}",
            f"controller.quorum.voters={voters(s)}",
            f"listeners=PLAINTEXT://{s.host}:{port},CONTROLLER://{s.host}:{port + 1}",
            f"advertised.listeners=PLAINTEXT://{s.host}:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={data_dir(s, node_id)}",
            # a node back from a crash catches up before it leads again
            "unclean.leader.election.enable=false",
            *broker.common_properties(s.partitions, replication=s.replication, min_insync=s.min_insync),
        ]
    )


def start(s: ClusterSettings) -> None:
    """Format every node's storage with one cluster id on first use, then start the nodes not running."""
    libs = kafka_classpath(s.cache_dir, versions.KAFKA)
    s.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    cluster_id_file = s.home / "kafka-cluster-id"
    if not cluster_id_file.exists():
        cluster_id_file.write_text(broker.new_cluster_id(libs))
    cluster_id = cluster_id_file.read_text().strip()
    for n in node_ids(s):
        props = s.home / f"kafka-{n}.properties"
        broker.write_private(props, node_properties(s, n))
        broker.format_storage(libs, props, data_dir(s, n), cluster_id, standalone=False)
        if node(s, n).running_pid() is None:
            broker.start_node(node(s, n), libs, props, s.kafka_heap)
    log.info("Kafka %s: %d nodes on %s", versions.KAFKA, len(s.kafka_ports), s.bootstrap)


def start_node(s: ClusterSettings, node_id: int) -> int:
    """Start one node again (after a fault) with the configuration `start` wrote."""
    libs = kafka_classpath(s.cache_dir, versions.KAFKA)
    return broker.start_node(node(s, node_id), libs, s.home / f"kafka-{node_id}.properties", s.kafka_heap)
