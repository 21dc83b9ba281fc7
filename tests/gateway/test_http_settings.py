"""http.host and http.port against a real gateway process: /healthz and /metrics are served
where configured, and the process listens nowhere else."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest

from deploy.connections import Connections
from tests.gateway.harness import GatewayProcess

pytestmark = pytest.mark.integration


def listening(pid: int) -> set[tuple[str, int]]:
    """The TCP (IPv4 and IPv6) addresses process `pid` listens on, from /proc (Linux)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        with open(f"/proc/{pid}/net/{table}") as f:
            rows = [line.split() for line in f.readlines()[1:]]
        for row in rows:
            local, state, inode = row[1], row[3], row[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            addr, port = local.split(":")
            raw = bytes.fromhex(addr)
            # /proc prints the address as 32-bit words in host (little-endian) order.
            packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add((socket.inet_ntop(family, packed), int(port, 16)))
    return found


def refused(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_health_server_listens_where_configured(tmp_path: Path, connections: Connections) -> None:
    # 127.0.0.2 is loopback too on Linux, but not the default host 127.0.0.1.
    gw = GatewayProcess(
        tmp_path, connections, f"t{uuid.uuid4().hex[:10]}", {"http.host": "127.0.0.2"}
    )
    gw.start(wait_healthy=False)
    try:
        health = gw.health()
        assert health is not None and health["gateway_id"] == gw.gateway_id
        assert "citygate_gateway_messages_in" in gw.metrics()
        assert gw.proc is not None
        assert listening(gw.proc.pid) == {("127.0.0.2", gw.http_port)}
        assert refused("127.0.0.1", gw.http_port)
    finally:
        gw.stop()
