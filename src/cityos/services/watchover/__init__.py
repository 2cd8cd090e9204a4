"""見守り (watch-over) by beacons, the Kakogawa model: guardians register a tag for a child or
an older resident (with consent); fixed, mobile and volunteer receivers report sightings;
the service keeps the last-seen place (hysteresis, `lastseen.py`) and tells the guardian
(`rules.py`). See docs/services/watch-over.md."""
