"""IoT device data platform (IoT機器データ連携基盤): device registry, MQTT/HTTP ingestion, liveness."""
