"""The staff console (/console/): overview, map, entities and charts, service catalog, notices,
organisations and accounts, alerts — server-rendered, Japanese first (WCAG 2.2 AA)."""
