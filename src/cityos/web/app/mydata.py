"""わたしのデータ (my data): consents with one switch each, the data tracker as a timeline,
linked IDs, export and erasure — for oneself, or for the family member one acts for.

APPI: consent to provision to third parties, withdrawal at any time; the information-bank
guideline: see the history of provision. Personal-Link (issue 6) keeps the records.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cityos.access.service import access_of
from cityos.audit.trail import PRINCIPAL
from cityos.web.app import personal_view as pv
from cityos.web.i18n import add_messages, pick
from cityos.web.pages import form_of
from cityos.web.render import prefs_of, render
from cityos.web.session import session_of

add_messages({
    "mydata.title": ("わたしのデータ", "My data"),
    "mydata.lead": ("あなたのデータを、だれが、何のために使えるかを決められます。いつでも変えられます。",
                    "You decide who may use your data, and for what. You can change it at "
                    "any time."),
    "mydata.acting": ("{name} さんの代わりに操作しています。", "You are acting for {name}."),
    "mydata.consents": ("データを渡してよい相手", "Who may receive your data"),
    "mydata.consents.none": ("まだ、データの利用を頼んできた会社はありません。",
                             "No company has asked to use your data yet."),
    "mydata.consent.on": ("渡す", "Shared"),  # short: one line even at 200% zoom on a phone
    "mydata.consent.off": ("渡さない", "Not shared"),
    "mydata.consent.requested": ("まだ決めていません", "Not decided yet"),
    "mydata.consent.waiting": ("許可を待っています", "Waiting for your answer"),
    "mydata.consent.approve": ("許可する", "Allow"),
    "mydata.consent.decline": ("断る", "Refuse"),
    "mydata.consent.label": ("「{who}」に{what}を渡す", "Give {what} to {who}"),
    "mydata.consent.service": ("サービス: {service}", "Service: {service}"),
    "mydata.consent.notice": ("会社からの説明: {notice}", "What the company says: {notice}"),
    "mydata.consent.purpose": ("使う目的: {purpose}", "Purpose: {purpose}"),
    "mydata.consent.off_means": ("オフにすると: {effect}", "If you turn it off: {effect}"),
    "mydata.consent.refuse_means": ("断ると: {effect}", "If you refuse: {effect}"),
    "mydata.consent.declined": ("断りました。", "Refused."),
    "mydata.pending": ("許可を待っている会社が {count} 件あります",
                       "{count} companies are waiting for your answer"),
    "mydata.pending.one": ("許可を待っている会社が 1 件あります",
                           "1 company is waiting for your answer"),
    "mydata.pending.go": ("答える", "Answer"),
    "mydata.consent.changed.on": ("オンにしました。", "Turned on."),
    "mydata.consent.changed.off": ("オフにしました。すぐに止まります。",
                                   "Turned off. It stops at once."),
    "mydata.consent.failed": ("変更できませんでした: {reason}", "Could not change it: {reason}"),
    "mydata.tracker": ("データが使われた記録", "When your data was used"),
    "mydata.tracker.lead": ("あなたのデータを、いつ、だれが、何のために見たかの記録です。",
                            "A record of when, by whom and why your data was read."),
    "mydata.tracker.none": ("まだ記録はありません。", "Nothing recorded yet."),
    "mydata.tracker.entry": ("{who} が {what} を見ました", "{who} read {what}"),
    "mydata.tracker.why": ("目的: {purpose}", "Purpose: {purpose}"),
    "mydata.links": ("つながっているID", "Linked IDs"),
    "mydata.links.lead": ("マイナンバーカードなどのIDや、会社のIDとのつながりです。",
                          "Your links to IDs such as the My Number card, and to companies' "
                          "customer IDs."),
    "mydata.links.none": ("つながっているIDはありません。", "No linked IDs."),
    "mydata.links.identity": ("本人確認のID", "Identity"),
    "mydata.links.company": ("会社のID", "Company ID"),
    "mydata.export": ("データをダウンロード", "Download your data"),
    "mydata.export.lead": ("あなたのデータをすべて、1つのファイル（JSON）で受け取れます。",
                           "Get all your data as one file (JSON)."),
    "mydata.export.button": ("ダウンロードする", "Download"),
    "mydata.erase": ("データを消す", "Erase your data"),
    "mydata.erase.lead": ("あなたの個人のデータを消します。消したデータは元にもどせません。",
                          "Erase your personal data. Erased data cannot be brought back."),
    "mydata.erase.button": ("消す手続きへ進む", "Go on to erasure"),
    "mydata.erase.confirm.title": ("本当にデータを消しますか", "Do you really want to erase "
                                   "your data?"),
    "mydata.erase.confirm.what": ("消えるもの: 位置・健康・買い物などの記録、同意、つながっているID、"
                                  "そしてアカウント（ログイン名とパスキー）。アカウントも削除されるため、"
                                  "このあとはサインインできません。また使うときは、新しくアカウントを作って"
                                  "ください。",
                                  "What goes: your records of location, health, shopping and so on, "
                                  "your consents, your linked IDs — and your account (login name "
                                  "and passkeys). As the account is deleted you cannot sign in "
                                  "afterwards; to use the app again, open a new account."),
    "mydata.erase.confirm.kept": ("法律で残すもの: だれがいつデータを読んだか・消したかの記録（中身は"
                                  "含みません）と、地域通貨などの会計の記録（あなたの名前を外して"
                                  "法定の期間）。",
                                  "What the law keeps: the record of who read or erased data and "
                                  "when (without the data itself), and accounting records such as "
                                  "local-currency payments (without your name, for the legal "
                                  "period)."),
    "mydata.erase.confirm.first": ("消す前に、データをダウンロードしておくことをおすすめします。",
                                   "We recommend downloading your data before you erase it."),
    "mydata.erase.confirm.check": ("元にもどせないことを確認しました",
                                   "I understand this cannot be undone"),
    "mydata.erase.confirm.button": ("データを消す", "Erase my data"),
    "mydata.erase.confirm.cancel": ("やめる", "Cancel"),
    "mydata.erase.confirm.missing": ("確認のチェックを入れてください。",
                                     "Please tick the box to confirm."),
    "mydata.erase.done": ("データとアカウントを消しました。また使うときは、新しくアカウントを作って"
                          "ください。",
                          "Your data and your account were erased. To use the app again, "
                          "open a new account."),
    "mydata.residents_only": ("このページは住民の方のためのページです。",
                              "This page is for residents."),
    "family.title": ("家族の代わりに使う", "Act for a family member"),
    "family.lead": ("家族から頼まれている場合、その人の代わりに同意を切り替えたり、記録を見たりできます。",
                    "If a family member asked you to, you can switch their consents and see "
                    "their records for them."),
    "family.none": ("代わりに操作できる家族はいません。家族の方が役場かアプリで登録できます。",
                    "There is nobody you can act for. Your family member can register you at "
                    "the town office or in the app."),
    "family.self": ("自分として使う", "Act as myself"),
    "family.for": ("{name} さんとして使う", "Act for {name}"),
    "family.current": ("いまの操作: {name}", "Acting now: {name}"),
    "family.me": ("自分", "myself"),
    "family.allowed": ("できること: {actions}", "Allowed: {actions}"),
    "family.action.view": ("データを見る", "see data"),
    "family.action.consents": ("同意を切り替える", "switch consents"),
    "family.not_allowed": ("この操作は頼まれていません。", "You were not asked to do this."),
    "family.banner": ("いま {name} さんの代わりに操作しています。表示されているのは {name} さんのデータです。",
                      "You are acting for {name}. The data shown is {name}'s."),
    "family.banner.back": ("自分にもどる", "Back to myself"),
})

CATEGORIES: dict[str, tuple[str, str, str, str]] = {
    # category: (ja, en, what turning it off means in ja, in en)
    "location": ("いる場所", "where you are",
                 "見守りや避難の案内で、あなたの場所が使われなくなります。",
                 "Watch-over and evacuation guidance no longer use where you are."),
    "health": ("健康の記録", "your health records",
               "健診や健康相談のサービスで、記録が使われなくなります。",
               "Health check and advice services no longer use your records."),
    "purchase": ("買い物の記録", "your shopping records",
                 "買い物や地域ポイントのおすすめが届かなくなります。",
                 "You no longer get shopping or local point suggestions."),
    "mobility": ("移動の記録", "your trips",
                 "オンデマンド交通などで、移動の記録が使われなくなります。",
                 "On-demand transport and similar services no longer use your trips."),
    "childcare": ("子育ての情報", "your childcare information",
                  "子育てのおすすめが届かなくなります。",
                  "You no longer get childcare suggestions."),
    "energy": ("電気の使い方", "your energy use",
               "省エネのアドバイスが届かなくなります。",
               "You no longer get energy-saving advice."),
    "usage": ("サービスの使い方", "how you use services",
              "サービスの改善に使われなくなります。",
              "It is no longer used to improve the service."),
    "profile": ("登録した情報", "what you registered",
                "その会社のサービスが使えなくなることがあります。",
                "You may no longer be able to use that company's service."),
    "administrative": ("役場への申請", "your applications to the town office",
                       "申請の状況が会社に伝わらなくなります。",
                       "The company no longer learns how your applications stand."),
}
_OTHER = ("データ", "data", "その会社は、このデータを受け取れなくなります。",
          "That company no longer receives this data.")
JST = timezone(timedelta(hours=9), "JST")
PURPOSES = {"ServiceProvision": ("サービスの提供", "providing the service"),
            "ResearchAndDevelopment": ("研究・開発", "research and development"),
            "ServicePersonalisation": ("あなたに合わせたサービス", "personalised service"),
            "CommunicationManagement": ("お知らせの連絡", "sending you notices")}


def category_words(category: str, lang: str) -> dict[str, str]:
    ja, en, off_ja, off_en = CATEGORIES.get(category, _OTHER)
    return {"what": en if lang == "en" else ja, "off": off_en if lang == "en" else off_ja}


def purpose_words(purpose: str, lang: str) -> str:
    term = purpose.rsplit(":", 1)[-1].rsplit("#", 1)[-1].rsplit("/", 1)[-1]
    words = PURPOSES.get(term)
    return (words[1] if lang == "en" else words[0]) if words else term


class Whose:
    """Whom a my-data request is about: the signed-in resident, or the one they act for."""

    def __init__(self, tenant: str, me: str, subject: str,
                 categories: frozenset[str] | None = None) -> None:
        self.tenant, self.me, self.subject = tenant, me, subject
        self.categories = categories  # the mandate's data categories (None: all)

    @property
    def acting(self) -> bool:
        return self.subject != self.me

    def covers(self, category: object) -> bool:
        """Whether a consent or access-log entry of `category` is within the mandate (as
        `personal._http.Acting.covers` for the API)."""
        return self.categories is None or category in self.categories


def whose(request: Request, action: str = "view") -> Whose | None:
    """None for callers that are not residents (staff reach these pages only as admins)."""
    principal = request.scope.get(PRINCIPAL)
    if principal is None or principal.kind != "resident":
        return None
    tenant, me = principal.tenant, principal.name
    session = session_of(request)
    subject = session.acting_for or me
    categories = None
    if subject != me:
        mandate = pv.mandate(request.app, tenant, me, subject, action)
        if mandate is None:
            subject = me
        elif mandate.get("categories") is not None:
            categories = frozenset(str(c) for c in mandate["categories"])
    return Whose(tenant, me, subject, categories)


async def resident_name(app: Any, resident_id: str) -> str:
    """How a family member is shown: their login name (their id when it is gone)."""
    resident = await (await access_of(app)).residents.get(resident_id) or {}
    return str(resident.get("login") or resident_id)


def _residents_only(request: Request) -> Response:
    return render(request, "app/message.html", {"message_key": "mydata.residents_only"})


def _consent_view(consent: dict[str, Any], lang: str) -> dict[str, Any]:
    """A consent in the resident's words: whose service asks, for what, and — in the
    company's own words when it gave them — what refusing means (never a line that assumes
    which service asks from the data type alone)."""
    words = category_words(consent["category"], lang)
    who = consent.get("recipientName") or consent.get("service") or consent["recipient"]
    effect = consent.get("ifRefused") or t_effect(lang, who, words["what"])
    return {"id": consent["id"], "on": consent["state"] == "APPROVED",
            "requested": consent["state"] == "REQUESTED",
            "declined": consent["state"] == "DECLINED",
            "who": who, "what": words["what"], "off": effect,
            "service": consent.get("service", "") if consent.get("service") != who else "",
            "notice": consent.get("notice", ""),
            "purpose": purpose_words(consent.get("purpose", ""), lang),
            "updated": consent.get("updated")}


def t_effect(lang: str, who: str, what: str) -> str:
    ja, en = "「{who}」は、あなたの{what}を受け取れなくなります。", "{who} no longer receives {what}."
    return (en if lang == "en" else ja).format(who=who, what=what)


def consent_order(consents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Waiting requests first (oldest first), then the others by when they were asked: the
    same order at every visit."""
    return sorted(consents, key=lambda c: (c.get("state") != "REQUESTED",
                                           c.get("requested") or 0, c.get("id", "")))


def _entry_view(entry: dict[str, Any], lang: str) -> dict[str, Any]:
    category = entry.get("category", "")
    at = entry.get("at") or entry.get("time") or entry.get("timestamp")
    return {"who": entry.get("service") or entry.get("recipient") or "?",
            "what": category_words(category, lang)["what"], "service": entry.get("service", ""),
            "purpose": purpose_words(entry.get("purpose") or "", lang) if entry.get("purpose")
            else "", "iso": _iso(at), "when": _when(at), "entity": entry.get("entity", "")}


def _moment(at: Any) -> datetime | None:
    """The tracker's time (milliseconds since the epoch) in Japan's time (no summer time)."""
    return datetime.fromtimestamp(at / 1000, JST) if isinstance(at, (int, float)) else None


def _when(at: Any) -> str:
    moment = _moment(at)
    return moment.strftime("%Y-%m-%d %H:%M") if moment else str(at or "")[:16]


def _iso(at: Any) -> str:
    moment = _moment(at)
    return moment.isoformat(timespec="seconds") if moment else ""


async def mydata_page(request: Request) -> Response:
    who = whose(request)
    if who is None:
        return _residents_only(request)
    lang = prefs_of(request.scope).lang
    consents = await pv.my_consents(request.app, who.tenant, who.subject)
    log = await pv.my_access_log(request.app, who.tenant, who.subject)
    links = await pv.my_links(request.app, who.tenant, who.subject)
    return render(request, "app/mydata.html", {
        "nav": "mydata", "who": who,
        "subject_name": await resident_name(request.app, who.subject) if who.acting else "",
        "consents": None if consents is None else [_consent_view(c, lang)
                                                   for c in consent_order(consents)
                                                   if who.covers(c.get("category"))],
        "entries": None if log is None else [_entry_view(e, lang) for e in log
                                             if who.covers(e.get("category"))],
        "links": links, "export_ready": pv.personal_of(request.app) is not None})


async def consent_switch(request: Request) -> Response:
    """One switch: `on=1` approves, `on=0` withdraws (declines a request); htmx swaps the
    answered row in place, a plain form post comes back to the page."""
    who = whose(request, "consents")
    if who is None:
        return render(request, "error.html", {"status": 400, "message_key":
                                              "mydata.residents_only"}, status=400)
    if session_of(request).acting_for not in ("", who.subject):  # a mandate to view only
        return render(request, "error.html", {"status": 403, "message_key":
                                              "family.not_allowed"}, status=403)
    on = (await form_of(request)).get("on") == "1"
    lang = prefs_of(request.scope).lang
    error = ""
    mine = await pv.my_consent(request.app, who.tenant, who.subject,
                               request.path_params["consentId"])
    if mine is None or not who.covers(mine.get("category")):  # not within the mandate
        return render(request, "error.html", {"status": 404, "message_key": "error.404"},
                      status=404)
    try:
        consent = await pv.switch_consent(
            request.app, who.tenant, who.subject, request.path_params["consentId"], on,
            by=f"resident:{who.me}", role="representative" if who.acting else "data subject")
    except pv.Refused as exc:  # Personal-Link refuses the move: say why, keep the row
        consent = await pv.my_consent(request.app, who.tenant, who.subject,
                                      request.path_params["consentId"])
        error = pick(str(exc), lang)
    if consent is None:
        return render(request, "error.html", {"status": 404, "message_key": "error.404"},
                      status=404)
    if request.headers.get("hx-request") != "true":
        return RedirectResponse("/app/mydata#consents", status_code=303)
    return render(request, "app/_consent.html", {"c": _consent_view(consent, lang),
                                                 "changed": not error, "error": error})


async def export_download(request: Request) -> Response:
    who = whose(request)
    if who is None:
        return _residents_only(request)
    if who.acting:  # export is never done on someone's behalf (as /personal/v1/me/export)
        return render(request, "error.html", {"status": 403, "message_key":
                                              "family.not_allowed"}, status=403)
    data = await pv.export_data(request.app, who.tenant, who.subject)
    if data is None:
        return render(request, "app/message.html", {"message_key": "soon"})
    name = f"my-data-{time.strftime('%Y%m%d')}.json"
    return Response(orjson.dumps(data, option=orjson.OPT_INDENT_2),
                    media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


async def erase_page(request: Request) -> Response:
    """The confirmation step before erasure (no time limit: it waits for the resident)."""
    who = whose(request)
    if who is None:
        return _residents_only(request)
    if who.acting:
        return render(request, "app/message.html", {"message_key": "family.not_allowed"})
    return render(request, "app/erase.html", {"nav": "mydata", "error": ""})


async def erase(request: Request) -> Response:
    who = whose(request)
    if who is None or who.acting:
        return render(request, "error.html", {"status": 400, "message_key":
                                              "family.not_allowed"}, status=400)
    if (await form_of(request)).get("confirm") != "yes":
        return render(request, "app/erase.html", {"nav": "mydata", "error":
                                                  "mydata.erase.confirm.missing"}, status=400)
    done = await pv.erase_data(request.app, who.tenant, who.subject, by=f"resident:{who.me}")
    if done is None:
        return render(request, "app/message.html", {"message_key": "soon"})
    session_of(request).sign_out()
    return render(request, "app/message.html", {"message_key": "mydata.erase.done"})


async def family_page(request: Request) -> Response:
    who = whose(request)
    if who is None:
        return _residents_only(request)
    mandates = pv.represented(request.app, who.tenant, who.me)
    names = {m["subject"]: await resident_name(request.app, m["subject"])
             for m in mandates or []}
    return render(request, "app/family.html", {"nav": "family", "who": who,
                                               "mandates": mandates, "names": names})


async def family_switch(request: Request) -> Response:
    """Act for the chosen family member (`subject`), or as oneself (empty)."""
    who = whose(request)
    if who is None:
        return render(request, "error.html", {"status": 400, "message_key":
                                              "mydata.residents_only"}, status=400)
    subject = (await form_of(request)).get("subject", "")
    session = session_of(request)
    if subject and subject != who.me:
        if not pv.may_act_for(request.app, who.tenant, who.me, subject, "view"):
            return render(request, "error.html", {"status": 403, "message_key":
                                                  "family.not_allowed"}, status=403)
        session.acting_for = subject
        session.acting_name = await resident_name(request.app, subject)
    else:
        session.acting_for = session.acting_name = ""
    session.changed = True
    return RedirectResponse("/app/mydata", status_code=303)
