"""The service's HTML: the resident's booking page, the driver's page, the operator's console.

Templates live here as strings (the package ships no template files) and extend the app's
and the console's layouts; no script (the CSP forbids inline script): forms and links only.
"""

from __future__ import annotations

from typing import Any

from jinja2 import (
    ChoiceLoader,
    DictLoader,
    Environment,
    PackageLoader,
    StrictUndefined,
    select_autoescape,
)
from starlette.requests import Request
from starlette.responses import HTMLResponse

from cityos.web.render import HEADERS, page_context, prefs_of, static_url
from cityos.web.session import session_of

_FORM = """
<form method="post" action="{{ action }}" class="ondemand-book">
  <input type="hidden" name="csrf" value="{{ csrf }}">
  <p><label for="origin">{{ tx('乗る場所', 'Pickup') }}</label>
  <select id="origin" name="origin" required>
    <optgroup label="{{ tx('地区（ご自宅の近く）', 'Areas (near your home)') }}">
    {% for s in areas %}<option value="{{ s.key }}">{{ s.name }}</option>{% endfor %}
    </optgroup>
    <optgroup label="{{ tx('駅・施設', 'Stations and places') }}">
    {% for s in places %}<option value="{{ s.key }}">{{ s.name }}</option>{% endfor %}
    </optgroup>
  </select></p>
  <p><label for="destination">{{ tx('行き先', 'Destination') }}</label>
  <select id="destination" name="destination" required>
    <optgroup label="{{ tx('診療所・駅・買い物・避難所', 'Clinic, station, shops, shelters') }}">
    {% for s in places %}<option value="{{ s.key }}">{{ s.name }}（{{ kinds[s.kind] }}）</option>{% endfor %}
    </optgroup>
    <optgroup label="{{ tx('地区（ご自宅へ）', 'Areas (home)') }}">
    {% for s in areas %}<option value="{{ s.key }}">{{ s.name }}</option>{% endfor %}
    </optgroup>
  </select></p>
  <fieldset><legend>{{ tx('いつ', 'When') }}</legend>
    <label class="choice"><input type="radio" name="when" value="now" checked> {{ tx('今すぐ', 'Now') }}</label>
    <label class="choice"><input type="radio" name="when" value="later"> {{ tx('時間を指定', 'At a time') }}</label>
    <label for="pickupAfter">{{ tx('乗りたい時刻（この時刻から30分のあいだ）', 'Pickup from (within 30 minutes)') }}</label>
    <select id="pickupAfter" name="pickupAfter">
    {% for t in times %}<option value="{{ t }}">{{ t }}</option>{% endfor %}
    </select>
  </fieldset>
  <p><label for="passengers">{{ tx('人数', 'People') }}</label>
  <select id="passengers" name="passengers">
    {% for n in range(1, 5) %}<option value="{{ n }}">{{ n }}{{ tx('人', '') }}</option>{% endfor %}
  </select></p>
  <p><label class="choice"><input type="checkbox" name="wheelchair" value="on"> {{ tx('車いすで乗ります', 'I ride in a wheelchair') }}</label></p>
  {% if caller %}<p><label for="resident">{{ tx('住民ID（わかれば）', 'Resident id (if known)') }}</label>
  <input id="resident" name="resident" maxlength="80"></p>{% endif %}
  <p><button type="submit">{{ tx('乗車時間を調べる', 'Check the times') }}</button></p>
</form>
"""

_RIDES = """
{% if rides %}
<ul class="cards" id="my-rides">
{% for r in rides %}
  <li class="card ride" data-ride="{{ r.id }}">
    <p class="service-name">{{ r.origin.name }} → {{ r.destination.name }}</p>
    <p><span class="badge">{{ status(r.status) }}</span>
    {% if r.carNear %}<strong class="car-near">{{ tx('車がまもなく着きます', 'Your car is near') }}</strong>{% endif %}</p>
    {% if r.pickupWindow %}<p>{{ tx('乗車', 'Pickup') }} {{ r.pickupWindow[0] }}〜{{ r.pickupWindow[1] }}
      ・{{ tx('到着', 'Arrival by') }} {{ r.arrivalBy }}{{ tx('まで', '') }}</p>{% endif %}
    <p>{{ r.passengers }}{{ tx('人', ' people') }}{% if r.wheelchair %}・{{ tx('車いす', 'wheelchair') }}{% endif %}
    {% if r.vehicle %}・{{ cars.get(r.vehicle, r.vehicle) }}{% endif %}</p>
    {% if r.status in ('confirmed', 'offered') %}
    <form method="post" action="{{ cancel_action }}">
      <input type="hidden" name="csrf" value="{{ csrf }}">
      <input type="hidden" name="ride" value="{{ r.id }}">
      <button type="submit" class="secondary">{{ tx('この予約を取り消す', 'Cancel this booking') }}</button>
    </form>
    {% endif %}
  </li>
{% endfor %}
</ul>
{% else %}<p>{{ tx('今日の予約はありません。', 'No bookings today.') }}</p>{% endif %}
"""

_OFFER = """
{% if offer.ok %}
<section class="card offer" aria-labelledby="offer-title">
  <h2 id="offer-title">{{ tx('ご案内できます', 'We can take you') }}</h2>
  <p class="offer-route">{{ ride.origin.name }} → {{ ride.destination.name }}</p>
  <p class="offer-pickup"><strong>{{ tx('お迎え', 'Pickup') }} {{ trip.pickupWindow[0] }}〜{{ trip.pickupWindow[1] }}</strong></p>
  <p class="offer-arrival"><strong>{{ tx('到着', 'Arrival by') }} {{ trip.arrivalBy }}{{ tx('まで', '') }}</strong></p>
  <p>{{ ride.passengers }}{{ tx('人', ' people') }}{% if ride.wheelchair %}・{{ tx('車いす', 'wheelchair') }}{% endif %}・{{ cars.get(ride.vehicle, ride.vehicle) }}</p>
  <p class="hint">{{ tx('3分以内に確定してください。', 'Please confirm within 3 minutes.') }}</p>
  <div class="actions">
  <form method="post" action="{{ confirm_action }}">
    <input type="hidden" name="csrf" value="{{ csrf }}">
    <input type="hidden" name="ride" value="{{ ride.id }}">
    <button type="submit">{{ tx('この内容で予約する', 'Book this ride') }}</button>
  </form>
  <form method="post" action="{{ cancel_action }}">
    <input type="hidden" name="csrf" value="{{ csrf }}">
    <input type="hidden" name="ride" value="{{ ride.id }}">
    <button type="submit" class="secondary">{{ tx('やめる', 'Not now') }}</button>
  </form>
  </div>
</section>
{% else %}
<section class="notice notice-error" role="alert">
  <h2>{{ tx('この時間は空いている車がありません', 'No car is free for this time') }}</h2>
  <p>{{ tx('時間を変えて、もう一度お調べください。', 'Please try another time.') }}</p>
</section>
<p><a href="{{ back }}">{{ tx('もどる', 'Back') }}</a></p>
{% endif %}
"""

_HEAD = """{% block head %}{{ super() }}<link rel="stylesheet" href="/app/ondemand/ondemand.css">{% endblock %}
"""

_APP = """{% extends "app/layout.html" %}
""" + _HEAD + """{% block title %}{{ tx('AIオンデマンド交通', 'On-demand transport') }}{% endblock %}
{% block main %}
<h1>{{ tx('AIオンデマンド交通', 'On-demand transport') }}</h1>
{% if flash %}<p class="notice notice-ok" role="status">{{ flash }}</p>{% endif %}
{% if offer %}""" + _OFFER + """{% else %}
<h2>{{ tx('わたしの予約', 'My bookings') }}</h2>
""" + _RIDES + """
<p><a href="/app/ondemand">{{ tx('最新の状態にする', 'Refresh') }}</a></p>
<h2>{{ tx('車を予約する', 'Book a car') }}</h2>
""" + _FORM + """{% endif %}
{% endblock %}
"""

_CONSOLE = """{% extends "console/layout.html" %}
""" + _HEAD + """{% block title %}{{ tx('オンデマンド交通', 'On-demand transport') }}{% endblock %}
{% block content %}
<h1>{{ tx('オンデマンド交通', 'On-demand transport') }}</h1>
{% if flash %}<p class="notice notice-ok" role="status">{{ flash }}</p>{% endif %}
<p><a href="/console/ondemand/driver">{{ tx('運転手の画面', 'Driver page') }}</a></p>
{% if offer %}""" + _OFFER + """{% else %}
<h2>{{ tx('電話で受けた予約', 'Book for a caller') }}</h2>
""" + _FORM + """
<h2>{{ tx('今日の指標', "Today's figures") }}</h2>
<table class="kpis">
<tbody>
{% for label, value in kpis %}<tr><th scope="row">{{ label }}</th><td>{{ value }}</td></tr>{% endfor %}
</tbody></table>
<h2>{{ tx('今日の便', "Today's trips") }}</h2>
<table class="trips" id="trips">
<thead><tr><th scope="col">{{ tx('番号', 'No.') }}</th><th scope="col">{{ tx('乗る場所', 'From') }}</th><th scope="col">{{ tx('行き先', 'To') }}</th>
<th scope="col">{{ tx('人数', 'People') }}</th><th scope="col">{{ tx('お迎え', 'Pickup') }}</th><th scope="col">{{ tx('到着', 'Arrival') }}</th>
<th scope="col">{{ tx('車', 'Car') }}</th><th scope="col">{{ tx('状態', 'Status') }}</th></tr></thead>
<tbody>
{% for r in rides %}<tr data-ride="{{ r.id }}"><td>{{ r.id }}</td><td>{{ r.origin.name }}</td><td>{{ r.destination.name }}</td>
<td>{{ r.passengers }}{% if r.wheelchair %} ♿{% endif %}</td>
<td>{% if r.pickupWindow %}{{ r.pickupWindow[0] }}〜{{ r.pickupWindow[1] }}{% endif %}</td>
<td>{{ r.arrivalBy or '' }}</td><td>{{ cars.get(r.vehicle, '') if r.vehicle else '' }}</td><td>{{ status(r.status) }}</td></tr>
{% else %}<tr><td colspan="8">{{ tx('まだありません', 'None yet') }}</td></tr>{% endfor %}
</tbody></table>
<h2>{{ tx('地区と時間帯ごとの予約（ヒートマップ）', 'Requests by area and hour (heat map)') }}</h2>
<div class="heat-wrap"><table class="heat" id="heat">
<thead><tr><th scope="col">{{ tx('地区', 'Area') }}</th>{% for h in hours %}<th scope="col">{{ h }}{{ tx('時', 'h') }}</th>{% endfor %}</tr></thead>
<tbody>
{% for area, row in heat %}<tr><th scope="row">{{ area }}</th>{% for h in hours %}{% set n = row.get(h, 0) %}<td class="heat-{{ [n, 4] | min }}">{{ n or '' }}</td>{% endfor %}</tr>
{% else %}<tr><td colspan="{{ hours | length + 1 }}">{{ tx('まだありません', 'None yet') }}</td></tr>{% endfor %}
</tbody></table></div>
{% endif %}
{% endblock %}
"""

_DRIVER = """{% extends "console/layout.html" %}
""" + _HEAD + """{% block title %}{{ tx('運転手', 'Driver') }}{% endblock %}
{% block content %}
<h1>{{ cars.get(car, car) }}</h1>
{% if flash %}<p class="notice notice-ok" role="status">{{ flash }}</p>{% endif %}
<p>{% for key, name in cars.items() %}<a href="/console/ondemand/driver?car={{ key }}"{% if key == car %} aria-current="page"{% endif %}>{{ name }}</a> {% endfor %}</p>
<p>{{ tx('乗っている人', 'Aboard') }}: <strong>{{ aboard }}</strong> ・ <a href="/console/ondemand/driver?car={{ car }}">{{ tx('更新', 'Refresh') }}</a></p>
{% if stops %}
<ol class="cards driver-stops" id="next-stops">
{% for s in stops %}
  <li class="card stop" data-ride="{{ s.ride }}">
    <p class="service-name">{{ s.time }} {{ tx('乗車', 'Pick up') if s.kind == 'p' else tx('降車', 'Drop off') }}</p>
    <p><strong>{{ s.place }}</strong></p>
    <p>{{ s.passengers }}{{ tx('人', ' people') }}{% if s.wheelchair %}・{{ tx('車いす（スロープ）', 'wheelchair (ramp)') }}{% endif %} ・ {{ s.ride }}</p>
    {% if loop.first %}
    <div class="actions">
      <form method="post" action="/console/ondemand/driver/mark">
        <input type="hidden" name="csrf" value="{{ csrf }}">
        <input type="hidden" name="car" value="{{ car }}">
        <input type="hidden" name="ride" value="{{ s.ride }}">
        <input type="hidden" name="kind" value="{{ s.kind }}">
        <button type="submit">{{ tx('乗車しました', 'Picked up') if s.kind == 'p' else tx('降車しました', 'Dropped off') }}</button>
      </form>
      {% if s.kind == 'p' %}
      <form method="post" action="/console/ondemand/driver/mark">
        <input type="hidden" name="csrf" value="{{ csrf }}">
        <input type="hidden" name="car" value="{{ car }}">
        <input type="hidden" name="ride" value="{{ s.ride }}">
        <input type="hidden" name="kind" value="p">
        <input type="hidden" name="absent" value="on">
        <button type="submit" class="secondary">{{ tx('不在（乗車なし）', 'No-show') }}</button>
      </form>
      {% endif %}
    </div>
    {% endif %}
  </li>
{% endfor %}
</ol>
{% else %}<p>{{ tx('次の停車はありません。', 'No stops ahead.') }}</p>{% endif %}
{% endblock %}
"""

CSS = """
.ondemand-book select, .ondemand-book input[type=text], .ondemand-book input:not([type]) {
  font-size: 1.15rem; min-height: 48px; width: 100%; max-width: 28rem; }
.offer-pickup, .offer-arrival { font-size: 1.5rem; margin: 0.5rem 0; }
.car-near { display: inline-block; margin-left: 0.5rem; color: #8a3b00; font-size: 1.2rem; }
.driver-stops .service-name { font-size: 1.6rem; }
.driver-stops button { font-size: 1.3rem; min-height: 56px; padding: 0 1.25rem; }
.heat-wrap { overflow-x: auto; max-width: 100%; }
table.heat td { text-align: center; min-width: 2.2rem; }
table.heat .heat-0 { background: #ffffff; color: #1a1a1a; }
table.heat .heat-1 { background: #fde9d9; color: #1a1a1a; }
table.heat .heat-2 { background: #f9b98f; color: #1a1a1a; }
table.heat .heat-3 { background: #e0662a; color: #000000; }
table.heat .heat-4 { background: #8a2a00; color: #ffffff; }
table.kpis th { text-align: left; padding-right: 1rem; }
table.kpis td { white-space: nowrap; text-align: right; }
"""

env = Environment(
    loader=ChoiceLoader([DictLoader({"ondemand/app.html": _APP, "ondemand/console.html": _CONSOLE,
                                     "ondemand/driver.html": _DRIVER}),
                         PackageLoader("cityos.web", "templates")]),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
env.globals["static"] = static_url


def show(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """Render one of the service's pages like every page of cityos (language, CSRF, headers)."""
    prefs = prefs_of(request.scope)
    values = page_context(request.scope, session_of(request), prefs)
    lang = prefs.lang

    def tx(ja: str, en: str) -> str:
        return en if lang == "en" else ja

    values["tx"] = tx
    values.update(context)
    html = env.get_template(name).render(values)
    return HTMLResponse(html, status_code=status, headers=dict(HEADERS))
