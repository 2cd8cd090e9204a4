"""What `cityos demo` prints: where the town is, who can sign in, and a three-line tour
(Japanese first, English after)."""

from __future__ import annotations

import shlex

from rich.console import Console
from rich.markup import escape

from cityos.settings import Settings
from cityos.town.loader import Town

ATTRIBUTION = ("避難所・指定緊急避難場所 出典：国土地理院 / shelters and evacuation sites: "
               "GSI Japan; 町丁目 town areas: Geolonia japanese-addresses; "
               "organisations, residents and devices are fictional / 事業者・住民・機器は架空です")


SOLAR_HISTORY = ("/ngsi-ld/v1/temporal/entities?type=PhotovoltaicMeasurement&attrs=activePower"
                 "&lastN=5&timerel=after&timeAt=2000-01-01T00:00:00Z")


def tour_lines(url: str, user: str, password: str, token_ttl: int) -> list[str]:
    """The tour as shell lines a person pastes one by one: a comment, then its command. The
    first sets TOKEN from a login; every call after it carries the token."""
    minutes = max(1, token_ttl // 60)
    auth = '-H "Authorization: Bearer $TOKEN"'
    return [
        f"# 1. トークンを取得({minutes}分で失効。401 が返ったらこの行を再実行) / get a token "
        f"(it expires after {minutes} minutes; on 401 run this line again)",
        f"TOKEN=$(curl -s --data-urlencode {shlex.quote('username=' + user)} "
        f"--data-urlencode {shlex.quote('password=' + password)} {url}/auth/login "
        "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')",
        "# 2. 7つの避難所と混雑 / the 7 shelters filling up",
        f"curl -s {auth} '{url}/ngsi-ld/v1/entities?type=EvacuationShelter"
        "&attrs=name,occupancy&options=keyValues'",
        "# 3. 報告している機器 / the devices reporting",
        f"curl -s {auth} {url}/iot/v1/devices",
        "# 4. 太陽光発電の履歴 / solar output history",
        f"curl -s {auth} '{url}{SOLAR_HISTORY}'",
    ]


def print_tour(console: Console, settings: Settings, town: Town) -> None:
    url = settings.public_url
    def out(text: str) -> None:
        console.print(text, soft_wrap=True)  # one line each, so that they can be copied

    out(f"  URL:       {url}   (NGSI-LD {url}/ngsi-ld/v1/entities, OpenAPI {url}/openapi.json)")
    out(f"  職員コンソール staff console: {url}/console   (地図 map: {url}/console/map)")
    if town.staff:
        out(f"  職員 staff (operator):       username={town.staff[0]}  password={town.staff[1]}")
    else:
        out("  職員 staff: use the admin login printed when this data directory was created")
    if town.org:
        out(f"  事業者 organisation ({escape(town.org[0])}): client_id={town.org[1]}  "
            f"client_secret={town.org[2]}")
    if town.resident:
        out(f"  住民 resident (app login):   {town.resident[0]} / {town.resident[1]}")
    out(f"  機器 {len(town.devices)} devices report every few seconds "
        "(1 real minute = 1 simulated hour, from 06:00)")
    user, password = town.staff or ("admin", "<admin password>")
    out("  [bold]Tour / ツアー[/]  シェルに1行ずつ貼り付けてください / paste into a shell, line "
        "by line:")
    for line in tour_lines(url, user, password, settings.access.token_ttl):
        console.print(escape(f"    {line}"), soft_wrap=True, highlight=False)
    out(f"  [dim]{ATTRIBUTION}[/]")
