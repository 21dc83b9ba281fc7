"""The gateway's state file: serial seqs never repeat across restarts or crashes, topic filters
are remembered, and every write leaves a complete file (no server needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from citygate.cli import cli
from gateway.errors import GatewayStateError
from gateway.state import FILENAME, GatewayState, SerialSeqs


def take(seqs: SerialSeqs, sensor: str, n: int) -> list[int]:
    return [seqs.next(sensor) for _ in range(n)]


def test_seqs_continue_after_a_clean_stop_without_a_gap(tmp_path: Path) -> None:
    seqs = SerialSeqs(GatewayState.load(tmp_path), block=10)
    assert take(seqs, "pms-1", 25) == list(range(1, 26))
    seqs.close()
    again = SerialSeqs(GatewayState.load(tmp_path), block=10)
    assert take(again, "pms-1", 3) == [26, 27, 28]


def test_seqs_jump_ahead_after_a_crash_and_never_repeat(tmp_path: Path) -> None:
    crashed = SerialSeqs(GatewayState.load(tmp_path), block=10)
    used = take(crashed, "pms-1", 23)  # no close(): as after SIGKILL or power loss
    after = SerialSeqs(GatewayState.load(tmp_path), block=10)
    nxt = take(after, "pms-1", 5)
    assert nxt == [31, 32, 33, 34, 35]  # after the reserved block 21..30
    assert not set(used) & set(nxt)


def test_a_block_is_durable_before_its_first_seq_is_handed_out(tmp_path: Path) -> None:
    seqs = SerialSeqs(GatewayState.load(tmp_path), block=100)
    seqs.next("pms-1")
    assert GatewayState.load(tmp_path).serial_seq("pms-1") == 100
    take(seqs, "pms-1", 99)
    assert GatewayState.load(tmp_path).serial_seq("pms-1") == 100  # one write per block
    seqs.next("pms-1")
    assert GatewayState.load(tmp_path).serial_seq("pms-1") == 200


def test_sensors_count_separately(tmp_path: Path) -> None:
    seqs = SerialSeqs(GatewayState.load(tmp_path), block=10)
    assert [seqs.next("a"), seqs.next("b"), seqs.next("a")] == [1, 1, 2]


def test_topics_are_remembered_in_one_json_file(tmp_path: Path) -> None:
    state = GatewayState.load(tmp_path)
    assert state.mqtt_topics == ()
    state.set_mqtt_topics(("city/B/+/+/telemetry", "city/A/+/+/telemetry"))
    assert GatewayState.load(tmp_path).mqtt_topics == (
        "city/A/+/+/telemetry",
        "city/B/+/+/telemetry",
    )
    assert [p.name for p in tmp_path.iterdir()] == [FILENAME]  # no temporary file left
    assert json.loads((tmp_path / FILENAME).read_text())["mqtt_topics"]


def test_an_unreadable_state_file_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / FILENAME).write_text('{"serial_seq": {"pms-1": ')
    with pytest.raises(GatewayStateError, match=FILENAME):
        GatewayState.load(tmp_path)


def test_the_gateway_refuses_to_start_on_an_unreadable_state_file(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    journal.mkdir()
    (journal / FILENAME).write_text("{")
    config = tmp_path / "gateway.yaml"
    config.write_text(f"gateway_id: gw-1\njournal: {{path: {journal}}}\n")
    result = CliRunner().invoke(cli, ["gateway", "run", "--config", str(config)])
    assert result.exit_code == 2
    assert f"cannot read gateway state {journal / FILENAME}" in result.output
