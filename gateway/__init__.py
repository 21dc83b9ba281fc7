"""The edge gateway daemon: MQTT and serial sources into Kafka through a durable journal."""
