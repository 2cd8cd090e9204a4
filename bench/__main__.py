"""`python -m bench [ngsi|darp] [options]`: the NGSI-LD broker figures by default.

`ngsi` is bench/ngsi.py (issue 2's figures); `darp` is bench/darp.py (dial-a-ride solver);
`temporal` is bench/temporal.py (issue 3's temporal figures); `notify` is bench/notify.py
(notification latency); `evacuation` is bench/evacuation.py (issue 21: evacuation re-plan
time); `consent` is bench/consent.py (issue 6: a consent-filtered query against the same
query unfiltered); `energy` is bench/energy.py (solar forecast skill against smart
persistence on measured data); any other name is bench/<name>.py.
"""

from __future__ import annotations

import importlib
import sys


def main(argv: list[str]) -> int:
    which = "ngsi"
    if argv and not argv[0].startswith("-"):  # a module of bench/: ngsi, darp, temporal …
        which, argv = argv[0], argv[1:]
    try:
        module = importlib.import_module(f"bench.{which}")
    except ImportError as exc:
        if exc.name == f"bench.{which}":
            print(f"bench: no {which} benchmark in this checkout", file=sys.stderr)
            return 2
        raise
    result = module.main(argv)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
