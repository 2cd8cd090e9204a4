"""Evacuation guidance (避難誘導) and shelter congestion (避難所混雑): issue 21, plan rows 44-45.

The core (`model`, `town_data`, `distances`, `planner`) needs no platform: it turns shelters,
emergency evacuation sites and town areas into a minimum person-distance plan. The service
(`manifest`, `routes`, `runtime`, `demo`) reads them through the platform's API.
"""
