"""Fixtures of the central integration tests."""

from __future__ import annotations

import pytest
from influxdb_client import BucketRetentionRules, InfluxDBClient

from deploy.connections import Connections

TEST_BUCKET = "citygate-central-tests"


@pytest.fixture(scope="module")
def influx(connections: Connections) -> Connections:
    """The stack's connections with a bucket of these tests' own (created once, kept a day):
    other users of the shared bucket cannot cause field type conflicts here."""
    conn = connections.with_influx(bucket=TEST_BUCKET)
    with InfluxDBClient(
        url=conn.influx.url, token=conn.influx.token.get_secret_value(), org=conn.influx.org
    ) as c:
        buckets = c.buckets_api()
        if buckets.find_bucket_by_name(TEST_BUCKET) is None:
            retention = BucketRetentionRules(type="expire", every_seconds=86400)
            buckets.create_bucket(
                bucket_name=TEST_BUCKET, org=conn.influx.org, retention_rules=retention
            )
    return conn
