"""aiokafka's record batch builders compress LZ4 with the fast compressor once the sink asks
(gateway.kafka_sink.fast_lz4), and what they build still reads back. Fails if aiokafka stops
calling the module-level `lz4_encode` that the sink replaces."""

from __future__ import annotations

import aiokafka.record._crecords.default_records as c_records
import aiokafka.record.default_records as py_records
import pytest
from aiokafka.record.memory_records import MemoryRecords

from gateway import kafka_sink
from gateway.config import Kafka

LZ4 = 3  # Kafka's attribute code for LZ4


@pytest.mark.parametrize("module", [c_records, py_records], ids=["compiled", "python"])
def test_a_batch_is_compressed_by_the_fast_compressor_and_reads_back(
    module: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    fast = kafka_sink.lz4_fast

    def spy(payload: bytes) -> bytes:
        calls.append(len(payload))
        return fast(payload)

    monkeypatch.setattr(kafka_sink, "lz4_fast", spy)
    monkeypatch.setattr(c_records, "lz4_encode", c_records.lz4_encode)
    monkeypatch.setattr(py_records, "lz4_encode", py_records.lz4_encode)
    kafka_sink.producer_options(Kafka())  # lz4 is the default
    builder = module.DefaultRecordBatchBuilder(  # type: ignore[attr-defined]
        magic=2,
        compression_type=LZ4,
        is_transactional=False,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    values = [b'{"sensor_id":"aq-%04d","seq":%d}' % (i % 10, i) for i in range(200)]
    for i, value in enumerate(values):
        builder.append(i, timestamp=None, key=value[14:21], value=value, headers=[])
    batch = MemoryRecords(bytes(builder.build())).next_batch()
    assert calls, "aiokafka no longer calls the lz4_encode the sink replaces"
    assert [r.value for r in batch] == values


def test_other_codecs_leave_aiokafka_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(c_records, "lz4_encode", original := c_records.lz4_encode)
    kafka_sink.producer_options(Kafka(compression="zstd"))
    assert c_records.lz4_encode is original
