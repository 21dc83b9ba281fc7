"""Central consumers: anomaly detection, rules and alerts over the readings from Kafka."""
