"""Net-zero (⑩): solar forecasts for the town's PV systems, supply and demand of the public
buildings, shelter backup power and the town's CO2 accounts (docs/services/energy.md)."""
