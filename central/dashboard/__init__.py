"""The city-operations dashboard behind `citygate dashboard`: an ASGI app (starlette) over
InfluxDB (history through Flux) and Kafka (alerts and gateway heartbeats, pushed as server-sent
events), with every asset shipped in the package."""
