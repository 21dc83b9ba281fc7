"""The serial port settings without a device: the baud rate reaches the line (a pty's termios)
and the parity the driver (Linux ptys clear parity bits, so that is as far as it is visible;
gateway.frame_clock counts the parity bit in a byte's line time), and a port that is not there is retried from reopen_min_s, doubling to reopen_max_s."""

from __future__ import annotations

import asyncio
import os
import termios
import threading
import time
from pathlib import Path

import pytest
import serial
from structlog.testing import capture_logs

from deploy.settings import ConfigError, validate
from gateway.config import SerialPort
from gateway.metrics import GatewayMetrics
from gateway.serial_source import SerialSourceRunner


def runner(port: str, **settings: object) -> SerialSourceRunner:
    cfg = validate(
        SerialPort,
        {"port": port, "codec": "pms5003", "sensor_id": "pms-1", "district": "west", **settings},
        "test",
    )
    return SerialSourceRunner(cfg, GatewayMetrics())


@pytest.mark.parametrize(
    ("baud", "parity", "speed", "pyserial_parity"),
    [
        (9600, "N", termios.B9600, serial.PARITY_NONE),
        (19200, "E", termios.B19200, serial.PARITY_EVEN),
        (115200, "O", termios.B115200, serial.PARITY_ODD),
    ],
)
def test_baud_and_parity_configure_the_line(
    baud: int, parity: str, speed: int, pyserial_parity: str
) -> None:
    master, slave = os.openpty()
    try:
        port = runner(os.ttyname(slave), baud=baud, parity=parity)._open()
        try:
            _, _, _, _, ispeed, ospeed, _ = termios.tcgetattr(port.fd)
            assert port.parity == pyserial_parity
        finally:
            port.close()
    finally:
        os.close(slave)
        os.close(master)
    assert (ispeed, ospeed) == (speed, speed)


def test_a_missing_port_is_retried_with_the_configured_backoff(tmp_path: Path) -> None:
    source = runner(str(tmp_path / "absent"), reopen_min_s=0.05, reopen_max_s=0.2)
    thread = threading.Thread(
        target=source._read_loop, args=(asyncio.new_event_loop(), asyncio.Queue()), daemon=True
    )
    with capture_logs() as logs:
        thread.start()
        deadline = time.monotonic() + 30
        while sum(e["event"] == "serial_open_failed" for e in logs) < 5:
            assert time.monotonic() < deadline, logs
            time.sleep(0.01)
        source._stop.set()
        thread.join(30)
    waits = [e["retry_s"] for e in logs if e["event"] == "serial_open_failed"][:5]
    # Doubling from reopen_min_s to reopen_max_s, each wait plus up to reopen_min_s of jitter.
    for k, wait in enumerate(waits):
        base = min(0.05 * 2**k, 0.2)
        assert base <= wait <= min(base + 0.05, 0.2), waits


@pytest.mark.parametrize(
    "settings",
    [{"baud": 0}, {"reopen_min_s": 0}, {"reopen_min_s": 2, "reopen_max_s": 1}, {"parity": "M"}],
)
def test_impossible_port_settings_fail_at_start(settings: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="|".join(settings)):
        runner("/dev/ttyX", **settings)
