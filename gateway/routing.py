"""Decode inbound bytes with the edge codecs and route them to journal records.

Readings go to city.<sensor_type>.v1 keyed by sensor id; anything that does not decode goes to
city.deadletter.v1 with its reason, source, origin and (capped) raw bytes. Nothing raises: a
decoder's exception becomes a dead letter too (reason code decoder_error).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Final

import msgspec
import structlog

from edge import deadletter, mqtt_json
from edge import reading as reading_codec
from edge.codec import ClockWindow, Rejected
from edge.mqtt_json import Stamped
from edge.reading import CONTENT_TYPE, SCHEMA_VERSION, Location, Reading
from edge.serial_codecs import CODECS, SerialCodec
from edge.topics import DEADLETTER, reading_topic
from gateway.config import SerialPort
from gateway.journal import JournalRecord
from gateway.metrics import GatewayMetrics
from gateway.sources import Inbound
from gateway.state import SerialSeqs

log = structlog.get_logger("gateway.routing")

DECODER_ERROR_LOG_S: Final = 10.0
DEFAULT_CLOCK: Final = ClockWindow()


class Router:
    def __init__(
        self,
        gateway_id: str,
        metrics: GatewayMetrics,
        serial_ports: Sequence[SerialPort] = (),
        serial_seqs: SerialSeqs | None = None,
        clock: ClockWindow | None = DEFAULT_CLOCK,
    ) -> None:
        self.gateway_id = gateway_id
        self.clock = clock  # how far a device's timestamp may be from its receipt
        self.metrics = metrics
        self._gw = gateway_id.encode()
        self._reading_headers = (
            ("gateway_id", self._gw),
            ("schema_version", str(SCHEMA_VERSION).encode()),
            ("content_type", CONTENT_TYPE.encode()),
        )
        self._serial: dict[str, tuple[SerialPort, SerialCodec, Location]] = {
            p.port: (p, CODECS[p.codec], Location(p.district, p.latitude, p.longitude))
            for p in serial_ports
        }
        if serial_ports and serial_seqs is None:
            raise ValueError("serial ports need serial_seqs: their frames carry no seq")
        # Serial frames carry no sequence number: the gateway counts per sensor, durably.
        self._serial_seqs = serial_seqs
        self._topics: dict[str, str] = {}  # sensor type -> its Kafka topic
        self._decoder_error_logged = -DECODER_ERROR_LOG_S
        self._decoder_errors_unlogged = 0

    def route(self, batch: Sequence[Inbound]) -> list[JournalRecord]:
        """The record for each input. A decoder that raises (a bug: decoders return Rejected)
        costs that message a dead letter, never the gateway: a crash would leave the batch
        unacknowledged, and the broker would redeliver it to every restart."""
        records: list[JournalRecord] = []
        append = records.append
        decode_stamped = mqtt_json.decode_stamped
        gateway_id, clock = self.gateway_id, self.clock
        for item in batch:
            try:
                if item.source == "mqtt" and not item.rejected:  # the hot path, inline
                    ts = item.received_ts
                    stamped = decode_stamped(item.origin, item.payload, ts, gateway_id, clock)
                    if isinstance(stamped, Rejected):
                        append(self._deadletter(item, stamped.reason))
                    else:
                        append(self._record(stamped, ts))
                else:
                    append(self._decode_and_route(item))
            except Exception as exc:
                self._log_decoder_error(item, exc)
                error = f"decoder_error: {type(exc).__name__}: {str(exc)[:200]}"
                append(self._deadletter(item, error))
        return records

    def _log_decoder_error(self, item: Inbound, exc: Exception) -> None:
        """One error line per DECODER_ERROR_LOG_S at most: a flood of poison must not become a
        flood of logs (the dead letters and their metric count every one)."""
        now = time.monotonic()
        if now - self._decoder_error_logged < DECODER_ERROR_LOG_S:
            self._decoder_errors_unlogged += 1
            return
        log.error(
            "decoder_error",
            source=item.source,
            origin=item.origin,
            error_type=type(exc).__name__,
            error=str(exc)[:200],
            payload_bytes=len(item.payload),
            unlogged_since_last=self._decoder_errors_unlogged,
        )
        self._decoder_error_logged = now
        self._decoder_errors_unlogged = 0

    def _decode_and_route(self, item: Inbound) -> JournalRecord:
        """A refused input or a serial frame (`route` takes MQTT messages itself)."""
        if item.rejected:
            return self._deadletter(item, item.rejected)
        result = self._decode_serial(item)
        if isinstance(result, Rejected):
            return self._deadletter(item, result.reason)
        return self._reading(result, item.received_ts)

    def _decode_serial(self, item: Inbound) -> Reading | Rejected:
        port, codec, location = self._serial[item.origin]
        assert self._serial_seqs is not None  # checked in __init__
        return codec.to_reading(
            item.payload,
            sensor_id=port.sensor_id,
            location=location,
            seq=self._serial_seqs.next(port.sensor_id),
            received_ts=item.received_ts,
        )

    def _reading(self, reading: Reading, received_ts: int) -> JournalRecord:
        stamped = msgspec.structs.replace(
            reading, gateway_id=self.gateway_id, received_ts=received_ts
        )
        value = reading_codec.encode(stamped)
        return self._record(
            Stamped(reading.sensor_type, reading.sensor_id.encode(), value), received_ts
        )

    def _record(self, stamped: Stamped, received_ts: int) -> JournalRecord:
        sensor_type = stamped.sensor_type
        topic = self._topics.get(sensor_type)
        if topic is None:
            topic = self._topics[sensor_type] = reading_topic(sensor_type)
        # topic, key, value, headers, sensor_type, ts (positional: the hot path)
        return JournalRecord(
            topic, stamped.key, stamped.value, self._reading_headers, sensor_type, received_ts
        )

    def _deadletter(self, item: Inbound, reason: str) -> JournalRecord:
        self.metrics.decode_errors.labels(item.source).inc()
        self.metrics.deadletters.labels(item.source, reason.split(":", 1)[0]).inc()
        record = deadletter.DeadLetter.capped(
            reason=reason,
            source="mqtt" if item.source == "mqtt" else "serial",
            origin=item.origin,
            raw=item.payload,
            received_ts=item.received_ts,
            gateway_id=self.gateway_id,
        )
        return JournalRecord(
            topic=DEADLETTER,
            key=item.origin.encode(),
            value=deadletter.encode(record),
            headers=(("gateway_id", self._gw), ("reason", reason[:200].encode())),
            sensor_type="deadletter",
            ts=item.received_ts,
        )
