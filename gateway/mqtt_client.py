"""paho's MQTT client with a read buffer under it.

paho reads every packet with at least three recv() calls (one byte of packet type, the length a
byte at a time, then the body) and goes back to select() after each packet. Draining a backlog
of small QoS 1 readings, that is most of the gateway's CPU. This client takes up to 64 KiB from
the socket at once and hands paho its bytes from memory, and parses every whole packet it holds
before it returns to select(). Measured in bench/results/gateway.md.

It overrides two of paho's methods, `_sock_recv` (private) and `loop_read` (public), so
pyproject.toml pins paho-mqtt to the 2.x line these were read from; tests/gateway covers
packets split across reads, reconnects and end of stream.
"""

from __future__ import annotations

import paho.mqtt.client as mqtt

READ_SIZE = 64 * 1024


class BufferedClient(mqtt.Client):
    # The unparsed bytes of the connection `_rbuf_sock`, from `_rbuf_pos` on.
    _rbuf = b""
    _rbuf_pos = 0
    _rbuf_sock: object = None

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._sock is not self._rbuf_sock:  # a new connection: nothing of the old one is kept
            self._rbuf, self._rbuf_pos, self._rbuf_sock = b"", 0, self._sock
        if self._rbuf_pos >= len(self._rbuf):
            # paho's own recv: would-block, TLS and closed-socket errors keep their meaning.
            data = super()._sock_recv(max(bufsize, READ_SIZE))
            if not data:
                return data  # end of stream: paho reports the connection lost
            self._rbuf, self._rbuf_pos = data, 0
        start = self._rbuf_pos
        self._rbuf_pos = min(start + bufsize, len(self._rbuf))
        return self._rbuf[start : self._rbuf_pos]

    def buffered(self) -> int:
        """Bytes read from the socket that paho has not parsed yet."""
        return len(self._rbuf) - self._rbuf_pos if self._sock is self._rbuf_sock else 0

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        # select() cannot see bytes already in the buffer: parse them all before returning.
        rc = super().loop_read(max_packets)
        while (
            rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock is not None and self.buffered()
        ):
            rc = super().loop_read(max_packets)
        return rc
