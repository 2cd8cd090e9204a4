"""わたしのデータのまとめ: the export as a person reads it — what data the town's platform holds
about her, which companies may use it, and who used it when — in Japanese (or English), Japan
time, printable (the browser saves it as PDF). The JSON download stays the machine-readable
copy of the same export."""

from __future__ import annotations

from collections import Counter

from starlette.requests import Request
from starlette.responses import Response

from cityos.web.app import mydata
from cityos.web.app import personal_view as pv
from cityos.web.i18n import add_messages
from cityos.web.render import prefs_of, render

add_messages({
    "summary.title": ("わたしのデータのまとめ", "Summary of my data"),
    "summary.lead": ("町のデータ基盤にある、あなたのデータのまとめです。印刷したり、PDFとして保存したり"
                     "できます。", "What the town's platform holds about you. You can print it or "
                     "save it as PDF."),
    "summary.made": ("作成: {when}", "Made: {when}"),
    "summary.account": ("あなたのアカウント", "Your account"),
    "summary.login": ("ログイン名", "Login name"),
    "summary.since": ("作った日", "Opened"),
    "summary.data": ("あなたについてのデータ", "Data about you"),
    "summary.data.none": ("あなたについてのデータはありません。", "There is no data about you."),
    "summary.data.kind": ("種類", "Kind"),
    "summary.data.count": ("件数", "Records"),
    "summary.consents": ("データを渡してよい相手", "Who may receive your data"),
    "summary.consents.none": ("ありません。", "Nobody."),
    "summary.state.APPROVED": ("渡してよい", "allowed"),
    "summary.state.REQUESTED": ("返事を待っています", "waiting for your answer"),
    "summary.state.DECLINED": ("断りました", "refused"),
    "summary.state.WITHDRAWN": ("やめました", "stopped"),
    "summary.state.EXPIRED": ("期限が切れました", "ended"),
    "summary.log": ("データが使われた記録", "When your data was used"),
    "summary.log.none": ("まだ記録はありません。", "Nothing recorded yet."),
    "summary.print": ("印刷する・PDFで保存する", "Print or save as PDF"),
    "summary.json": ("機械で読める形（JSON）は「ダウンロードする」から受け取れます。",
                     "The machine-readable copy (JSON) is the “Download” file."),
    "summary.open": ("読みやすい形で見る（印刷できます）", "See it in plain words (printable)"),
})


def _kind(types: object, descriptions: dict[str, str]) -> str:
    """An entity's kind in words: the data catalog's description of its (first) type."""
    type_name = str(types[0] if isinstance(types, list) and types else types or "")
    short = type_name.rstrip("/#").replace("#", "/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return descriptions.get(short, short)


async def summary_page(request: Request) -> Response:
    who = mydata.whose(request)
    if who is None:
        return render(request, "app/message.html", {"message_key": "mydata.residents_only"})
    if who.acting:  # as the JSON export: never on someone's behalf
        return render(request, "error.html", {"status": 403, "message_key":
                                              "family.not_allowed"}, status=403)
    data = await pv.export_data(request.app, who.tenant, who.subject)
    if data is None:
        return render(request, "app/message.html", {"message_key": "soon"})
    lang = prefs_of(request.scope).lang
    catalog = pv.personal_of(request.app).catalog  # type: ignore[union-attr]
    descriptions = {e.type: (e.description.split(" / ")[1 if lang == "en" else 0]
                             if " / " in e.description else e.description)
                    for e in catalog.entries()}
    kinds = Counter(_kind(e.get("type"), descriptions) for e in data["entities"])
    consents = [{**mydata._consent_view(c, lang), "state": c["state"],
                 "updated": c.get("updated")}
                for c in mydata.consent_order(data["consents"])]
    entries = [mydata._entry_view(e, lang) for e in data["accessLog"]]
    account = data.get("account") or {}
    return render(request, "app/summary.html", {
        "nav": "mydata", "account": account, "made": data["exported"],
        "kinds": sorted(kinds.items(), key=lambda kv: -kv[1]), "consents": consents,
        "entries": entries})
