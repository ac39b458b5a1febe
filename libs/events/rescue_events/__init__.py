"""Contracts and plumbing of the network's events.

- ``contracts``: the versioned event models (importing it registers them);
- ``registry``: topics and event types, the owner of every wire name;
- ``envelope``: CloudEvents 1.0 in Kafka headers;
- ``outbox`` / ``relay``: staged in the business transaction, published by the relay;
- ``consumer``: idempotent consumers with retries and dead letters;
- ``schemas``: the committed JSON Schemas and AsyncAPI document.
"""
