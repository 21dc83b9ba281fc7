"""The local stack without Docker: Mosquitto, Kafka (KRaft) and InfluxDB on loopback."""

from deploy.errors import StackError
from deploy.local.stack import SERVICES, Stack

__all__ = ["SERVICES", "Stack", "StackError"]
