"""Town digital currency (⑬ 地域通貨): a double-entry ledger owned by the service, pay by QR,
settlement to shops, and the town's circulation figures."""
