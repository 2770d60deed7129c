"""The telemetry contract: metric catalog, topic scheme, payload models, the pure decoder."""
