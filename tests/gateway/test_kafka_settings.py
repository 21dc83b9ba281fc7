"""Each kafka.* setting reaches the producer (no server needed), and bad combinations fail."""

from __future__ import annotations

import pytest

from deploy import settings
from deploy.settings import ConfigError
from gateway.config import Kafka
from gateway.kafka_sink import producer_options


@pytest.mark.parametrize(
    ("setting", "value", "option", "expected"),
    [
        ("compression", "zstd", "compression_type", "zstd"),
        ("compression", "none", "compression_type", None),
        ("linger_ms", 40, "linger_ms", 40),
        ("max_batch_bytes", 65536, "max_batch_size", 65536),
        ("request_timeout_ms", 3000, "request_timeout_ms", 3000),
        ("backoff_min_s", 0.25, "retry_backoff_ms", 250),
        ("bootstrap", "kafka.example:9092", "bootstrap_servers", "kafka.example:9092"),
    ],
)
def test_setting_reaches_the_producer(
    setting: str, value: object, option: str, expected: object
) -> None:
    assert producer_options(settings.validate(Kafka, {setting: value}, "test"))[option] == expected


def test_delivery_guarantees_are_not_settings() -> None:
    options = producer_options(Kafka())
    assert options["acks"] == "all" and options["enable_idempotence"] is True


def test_backoff_max_below_min_fails() -> None:
    with pytest.raises(ConfigError, match="backoff_max_s"):
        settings.validate(Kafka, {"backoff_min_s": 5, "backoff_max_s": 1}, "test")
