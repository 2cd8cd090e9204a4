"""The self-check as a Japanese HTML page for the town's security committee: the date (JST),
the tally, every item with its status and evidence, the open tasks and the history."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

from cityos.compliance.items import CATEGORY_JA, ORDER, STATUS_JA

JST = dt.timezone(dt.timedelta(hours=9), "JST")
_COLOURS = {"ng": "#8b0000", "warn": "#7a4a00", "task": "#1f3a93", "attested": "#145a32",
            "ok": "#145a32", "na": "#444444"}


def jst(at: float) -> str:
    when = dt.datetime.fromtimestamp(at, JST)
    return f"{when.year}年{when.month}月{when.day}日 {when.hour}時{when.minute:02d}分"


def _badge(status: str) -> str:
    return (f'<span class="badge" style="border-color:{_COLOURS[status]};color:'
            f'{_COLOURS[status]}">{escape(STATUS_JA[status])}</span>')


def render(items: list[dict[str, Any]], at: float, town: str,
           history: list[dict[str, Any]]) -> str:
    tally = {s: sum(1 for i in items if i["status"] == s) for s in ORDER}
    rows = []
    for category, name in CATEGORY_JA.items():
        group = [i for i in items if i["category"] == category]
        if not group:
            continue
        rows.append(f'<h2 id="{category}">{escape(name)}</h2>')
        rows.append('<table><thead><tr><th scope="col">番号</th><th scope="col">項目</th>'
                    '<th scope="col">状態</th><th scope="col">確認した内容・証跡</th></tr>'
                    '</thead><tbody>')
        for item in group:
            found = "".join(f"<li>{_badge(c['status'])} {escape(c['label'])}: "
                            f"{escape(c['detail'])}</li>" for c in item["checks"])
            if item["evidence"]:
                ev = item["evidence"]
                found += (f"<li>{_badge('attested')} 証跡: {escape(str(ev.get('evidence', '')))}"
                          f" ({escape(str(ev.get('by', '')))}、{jst(float(ev['at']))})</li>")
            elif item["task"]:
                found += f"<li>{_badge('task')} 添付が必要: {escape(item['task'])}</li>"
            rows.append(f'<tr><th scope="row">{escape(item["id"])}</th><td><strong>'
                        f'{escape(item["title"])}</strong><br><small>'
                        f'{escape(item["description"])}</small></td><td>'
                        f'{_badge(item["status"])}</td><td><ul>{found}</ul></td></tr>')
        rows.append("</tbody></table>")
    tasks = [i for i in items if i["task"] and not i["evidence"]]
    todo = "".join(f"<li><strong>{escape(i['id'])}</strong> {escape(i['title'])}: "
                   f"{escape(i['task'])}</li>" for i in tasks)
    fixes = "".join(f"<li><strong>{escape(i['id'])}</strong> {escape(i['title'])}: "
                    + "、".join(escape(c["detail"]) for c in i["checks"]
                               if c["status"] in ("ng", "warn")) + "</li>"
                    for i in items if i["status"] in ("ng", "warn"))
    past = "".join(f"<tr><td>{jst(float(h['at']))}</td>"
                   + "".join(f"<td>{int(h.get('summary', {}).get(s, 0))}</td>"
                             for s in ("ok", "attested", "warn", "ng", "task"))
                   + "</tr>" for h in history[-12:])
    counts = "".join(f"<li>{_badge(s)} {tally[s]}項目</li>" for s in ORDER if tally[s])
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>セキュリティ自己点検報告書 — {escape(town)}</title>
<style>
body {{ font-family: sans-serif; font-size: 1.125rem; line-height: 1.7; color: #111;
       background: #fff; max-width: 72rem; margin: 0 auto; padding: 1rem; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 2rem; }}
th, td {{ border: 1px solid #555; padding: .5rem; vertical-align: top; text-align: left; }}
.badge {{ border: 2px solid; border-radius: .3rem; padding: 0 .3rem; font-weight: bold;
          white-space: nowrap; }}
ul {{ margin: 0; padding-left: 1.2rem; }}
small {{ font-size: .95rem; color: #333; }}
@page {{ size: A4; margin: 15mm; }}
@media print {{ body {{ font-size: 10.5pt; max-width: none; }} tr {{ break-inside: avoid; }} }}
</style></head><body>
<h1>スマートシティセキュリティガイドライン(第2.0版) 自己点検報告書</h1>
<p>{escape(town)} — 点検日時: {jst(at)}(cityos compliance による自動点検)</p>
<h2>結果の概要</h2><ul>{counts}</ul>
<p>全{len(items)}項目のうち、ソフトウェアが稼働中の状態から確認できるものは自動で判定し、
人が証跡(文書・記録)を添付すべきものは「要証跡」としています。</p>
<h2>要対応・注意の項目</h2><ul>{fixes or "<li>ありません</li>"}</ul>
<h2>証跡の添付が必要な項目({len(tasks)}件)</h2><ul>{todo or "<li>ありません</li>"}</ul>
<h2>これまでの点検</h2>
<table><thead><tr><th scope="col">点検日時</th><th scope="col">適合</th>
<th scope="col">証跡登録済み</th><th scope="col">注意</th><th scope="col">要対応</th>
<th scope="col">要証跡</th></tr></thead><tbody>{past}</tbody></table>
{"".join(rows)}
</body></html>
"""
