"""The demo town (豊能町 Toyono): real open data, fictional organisations, residents and devices,
and a simulator feeding the devices through the ingestion path."""
