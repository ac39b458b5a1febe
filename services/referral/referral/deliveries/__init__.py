"""The one outbound delivery mechanism for every partner feed: a row per message
and agency, the agency's own Kafka topic, its signed webhook, its pull feed, its
acknowledgement and the overdue sweep (outbound.py is where a feed starts)."""
