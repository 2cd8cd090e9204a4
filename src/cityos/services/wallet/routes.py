"""The wallet's three faces: the resident page /app/wallet (balance, history, pay by QR or
code) and the shop screen /app/wallet/shop for residents registered as a shop's staff; the
town console /console/wallet; and the API /services/v1/wallet/… (Idempotency-Key header)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from urllib.parse import quote

import orjson
import segno
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from cityos.audit.trail import PRINCIPAL
from cityos.operations import RESIDENT_ROLE, STAFF_READ, STAFF_WRITE, Operation, Param, Policy
from cityos.services.runtime import ServiceContext, context_of
from cityos.services.wallet import messages as _messages  # noqa: F401  (the words)
from cityos.services.wallet.counter import Counter, normal_code
from cityos.services.wallet.demo import welcome
from cityos.services.wallet.errors import BadAmount, UnknownTransaction, WalletError
from cityos.services.wallet.export import export_beancount
from cityos.services.wallet.ledger import (
    JST,
    KINDS,
    ledger_totals,
    resident_account,
    shop_account,
)
from cityos.services.wallet.manifest import MANIFEST
from cityos.services.wallet.platform_link import ask_once, record_purchase
from cityos.services.wallet.render import render
from cityos.services.wallet.reports import (
    circulation,
    sales_per_day,
    statement,
    statement_csv,
    statements_of,
)
from cityos.services.wallet.runtime import counter_of
from cityos.services.wallet.statement_seal import sealed
from cityos.web.console._page import NAV as CONSOLE_NAV
from cityos.web.console._page import can_edit, staff_name
from cityos.web.jst import shown
from cityos.web.pages import form_of, page

NAME = MANIFEST.name
APP, CONSOLE, API = MANIFEST.app_path, MANIFEST.console_path, MANIFEST.api_path
RESIDENT = Policy(roles=(RESIDENT_ROLE,))
PROBLEM = "https://cityos.example/problems/wallet/"


# --- helpers ---------------------------------------------------------------------------
def _ctx(request: Request) -> ServiceContext:
    return context_of(request, NAME)


def _counter(request: Request) -> Counter:
    return counter_of(_ctx(request))


def _me(request: Request) -> str:
    principal = request.scope.get(PRINCIPAL)
    if principal is None or principal.kind != "resident":
        raise BadAmount("住民のアカウントでサインインしてください", "sign in as a resident")
    return str(principal.name)


def _problem(exc: WalletError) -> JSONResponse:
    return JSONResponse({"type": PROBLEM + exc.code, "title": exc.code, "status": exc.status,
                         "detail": str(exc), "detail_ja": exc.ja, "detail_en": exc.en},
                        status_code=exc.status, media_type="application/problem+json")


def _page_error(request: Request, exc: WalletError, back: str = APP) -> Response:
    lang = getattr(request.scope.get("cityos.prefs"), "lang", "ja")
    return render(request, "wallet/error.html", {
        "message": exc.en if lang == "en" else exc.ja, "back": back, "nav": "home"},
        status=exc.status)


def _jst(iso: str) -> str:
    return shown(iso)  # Japan's clock, as every page shows times


def _qr_svg(url: str, label: str) -> str:
    svg = segno.make(url, error="m").svg_inline(scale=6, svgclass="wallet-qr", title=label)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)


def _within(request: Request, amount: object) -> None:
    """A payment request is at most the town's `max_amount` (a QR at a shop is for a till)."""
    limit = int(_ctx(request).options["max_amount"])
    if isinstance(amount, int) and amount > limit:
        raise BadAmount(f"支払い依頼は {limit:,} 円までです", f"a payment request is at most "
                        f"¥{limit:,}")


async def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


def _history_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "when": _jst(r["at"])} for r in rows]


# --- resident pages --------------------------------------------------------------------
async def wallet_page(request: Request) -> Response:
    me = _me(request)
    counter = _counter(request)
    ledger = counter.ledger
    account = resident_account(me)
    if _ctx(request).settings.services.demo:
        await _run(welcome, counter, me)
    try:
        balance = await _run(ledger.balance, account)
    except WalletError:
        balance = {"total": 0, "byKind": dict.fromkeys(KINDS, 0), "lots": []}
    history = _history_rows(await _run(ledger.history, account, 20)) if balance["lots"] or \
        await _run(_has_account, counter, account) else []
    records = await ask_once(_ctx(request), me)
    pending = [{**p, "when": _jst(p["at"])} for p in await _run(counter.pending, account)]
    return render(request, "wallet/app.html", {
        "balance": balance, "history": history, "records": records, "pending": pending,
        "flash": request.query_params.get("done", ""),
        "shops": await _run(counter.shops_of, me), "nav": "home"})


def _has_account(counter: Counter, account: str) -> bool:
    with counter.ledger.reading() as conn:
        return conn.execute("SELECT 1 FROM accounts WHERE id = ?", (account,)).fetchone() \
            is not None


async def pay_code(request: Request) -> Response:
    """The code typed by hand: on to the same confirmation page as the QR's link."""
    raw = request.query_params.get("code", "")
    try:
        code = normal_code(raw)
    except WalletError as exc:
        return _page_error(request, exc)
    return RedirectResponse(f"{APP}/pay/{quote(code)}", status_code=303)


async def confirm_page(request: Request) -> Response:
    _me(request)
    try:
        req = await _run(_counter(request).request, request.path_params["code"])
    except WalletError as exc:
        return _page_error(request, exc)
    return render(request, "wallet/confirm.html", {
        "req": req, "expires": _jst(req["expires"]), "nav": "home"})


async def confirm(request: Request) -> Response:
    me = _me(request)
    counter = _counter(request)
    code = request.path_params["code"]
    try:
        paid = await _run(counter.pay, code, resident_account(me))
        req = await _run(counter.request, code)
    except WalletError as exc:
        return _page_error(request, exc)
    _ctx(request).spawn(record_purchase(_ctx(request), me, paid, req["shopName"]))
    return RedirectResponse(f"{APP}/paid/{quote(req['code'])}", status_code=303)


async def paid_page(request: Request) -> Response:
    me = _me(request)
    counter = _counter(request)
    try:
        req = await _run(counter.request, request.path_params["code"])
    except WalletError as exc:
        return _page_error(request, exc)
    if req["payer"] != resident_account(me):
        return _page_error(request, BadAmount("この支払いは見られません",
                                              "this payment is not yours"))
    balance = await _run(counter.ledger.balance, resident_account(me))
    return render(request, "wallet/paid.html", {"req": req, "balance": balance, "nav": "home"})


async def show_code(request: Request) -> Response:
    """The resident shows a code (and QR) for the shop to charge; she confirms after."""
    me = _me(request)
    token = await _run(_counter(request).token, me, int(_ctx(request).options["request_minutes"]))
    return RedirectResponse(f"{APP}/show/{token['code']}", status_code=303)


async def show_page(request: Request) -> Response:
    me = _me(request)
    code = request.path_params["code"]
    with _counter(request).ledger.reading() as conn:
        row = conn.execute("SELECT * FROM pay_tokens WHERE code = ? AND resident = ?",
                           (code, me)).fetchone()
    if row is None:
        return _page_error(request, BadAmount("このコードはありません", "no such code"))
    lang = getattr(request.scope.get("cityos.prefs"), "lang", "ja")
    label = "My payment code" if lang == "en" else "わたしの支払いコード"
    return render(request, "wallet/show.html", {
        "code": code, "shown": f"{code[:4]}-{code[4:]}", "expires": _jst(row["expires"]),
        "qr": _qr_svg(f"cityos-wallet:{code}", label), "nav": "home"})


async def _decide(request: Request, kind: str) -> Response:
    me = _me(request)
    ledger = _counter(request).ledger
    hold_id = request.path_params["holdId"]
    try:
        hold = await _run(ledger.transaction, hold_id)
        if hold["kind"] != "hold" or hold["payer"] != resident_account(me):
            raise BadAmount("この支払いは確かめられません", "this payment is not yours")
        done = await _run(ledger.post if kind == "post" else ledger.void, f"{kind}:{hold_id}",
                          hold_id)
    except WalletError as exc:
        return _page_error(request, exc)
    if kind == "post":
        names = {f"shop:{x['shop']}": x["name"] for x in await _run(_counter(request).shops)}
        _ctx(request).spawn(record_purchase(_ctx(request), me, {**done, "id": hold_id},
                                            names.get(hold["payee"], hold["payee"])))
    flash = "支払いました / paid" if kind == "post" else "取り消しました / cancelled"
    return RedirectResponse(f"{APP}?done={quote(flash)}", status_code=303)


async def confirm_hold(request: Request) -> Response:
    return await _decide(request, "post")


async def cancel_hold(request: Request) -> Response:
    return await _decide(request, "void")


# --- the shop screen (residents who are a shop's staff) --------------------------------
async def _my_shop(request: Request) -> dict[str, Any] | None:
    shops = await _run(_counter(request).shops_of, _me(request))
    wanted = request.query_params.get("shop") or request.path_params.get("shop")
    return next((s for s in shops if s["shop"] == wanted), shops[0] if shops else None)


async def shop_page(request: Request) -> Response:
    shop = await _my_shop(request)
    if shop is None:
        return render(request, "wallet/shop.html", {"shop": None, "nav": "home"})
    counter = _counter(request)
    today = dt.datetime.now(JST).date()
    with counter.ledger.reading() as conn:
        sales = sales_per_day(conn, shop_account(shop["shop"]),
                              (today - dt.timedelta(days=30)).isoformat(), today.isoformat())
        statements = statements_of(conn, shop_account(shop["shop"]))
    balance = await _run(counter.ledger.balance, shop_account(shop["shop"]))
    recent = [{**r, "when": _jst(r["created"])} for r in
              await _run(counter.recent, shop["shop"], 10)]
    return render(request, "wallet/shop.html", {
        "shop": shop, "sales": list(reversed(sales)), "recent": recent,
        "statements": [{**s, "when": _jst(s["at"])} for s in statements],
        "balance": balance, "nav": "home"})


async def shop_ask(request: Request) -> Response:
    shop = await _my_shop(request)
    form = await form_of(request)
    if shop is None or form.get("shop", shop["shop"]) != shop["shop"]:
        return _page_error(request, BadAmount("お店の担当者ではありません",
                                              "you are not staff of this shop"))
    try:
        amount = int(form.get("amount", "").strip().replace(",", ""))
    except ValueError:
        return _page_error(request, BadAmount("金額を数字で入れてください",
                                              "enter the amount in figures"), f"{APP}/shop")
    try:
        _within(request, amount)
        req = await _run(_counter(request).ask, shop["shop"], amount,
                         int(_ctx(request).options["request_minutes"]), form.get("memo", ""))
    except WalletError as exc:
        return _page_error(request, exc, f"{APP}/shop")
    return RedirectResponse(f"{APP}/shop/requests/{req['code']}", status_code=303)


async def shop_charge(request: Request) -> Response:
    """The shop charges the code a customer shows: her confirmation is then awaited."""
    shop = await _my_shop(request)
    form = await form_of(request)
    if shop is None or form.get("shop", shop["shop"]) != shop["shop"]:
        return _page_error(request, BadAmount("お店の担当者ではありません",
                                              "you are not staff of this shop"))
    back = f"{APP}/shop?shop={shop['shop']}"
    try:
        amount = int(form.get("amount", "").strip().replace(",", ""))
        _within(request, amount)
        hold = await _run(_counter(request).charge, form.get("code", ""), shop["shop"], amount,
                          form.get("memo", "")[:100])
    except ValueError:
        return _page_error(request, BadAmount("金額を数字で入れてください",
                                              "enter the amount in figures"), back)
    except WalletError as exc:
        return _page_error(request, exc, back)
    return RedirectResponse(f"{APP}/shop/holds/{hold['id']}", status_code=303)


async def shop_hold_page(request: Request) -> Response:
    me = _me(request)
    counter = _counter(request)
    try:
        hold = await _run(counter.ledger.transaction, request.path_params["holdId"])
    except WalletError as exc:
        return _page_error(request, exc, f"{APP}/shop")
    mine = {f"shop:{s['shop']}" for s in await _run(counter.shops_of, me)}
    if hold["kind"] != "hold" or hold["payee"] not in mine:
        return _page_error(request, BadAmount("お店の担当者ではありません",
                                              "you are not staff of this shop"))
    return render(request, "wallet/shop_hold.html", {"hold": hold, "when": _jst(hold["at"]),
                                                     "shop": hold["payee"].split(":", 1)[1],
                                                     "nav": "home"})


async def shop_request_page(request: Request) -> Response:
    me = _me(request)
    counter = _counter(request)
    try:
        req = await _run(counter.request, request.path_params["code"])
    except WalletError as exc:
        return _page_error(request, exc, f"{APP}/shop")
    if req["shop"] not in {s["shop"] for s in await _run(counter.shops_of, me)}:
        return _page_error(request, BadAmount("お店の担当者ではありません",
                                              "you are not staff of this shop"))
    url = f"{_ctx(request).settings.public_url}{APP}/pay/{req['code']}"
    lang = getattr(request.scope.get("cityos.prefs"), "lang", "ja")
    label = (f"QR code of a payment request for ¥{req['amount']:,}" if lang == "en"
             else f"{req['amount']:,} 円の支払い依頼の QR コード")
    return render(request, "wallet/shop_request.html", {
        "req": req, "qr": _qr_svg(url, label), "expires": _jst(req["expires"]), "nav": "home"})


async def statement_download(request: Request) -> Response:
    """A settlement statement as CSV, or sealed JSON (.json): the shop's staff, or the
    town's staff."""
    principal = request.scope.get(PRINCIPAL)
    counter = _counter(request)
    try:
        with counter.ledger.reading() as conn:
            st = statement(conn, request.path_params["statementId"])
    except WalletError as exc:
        return _problem(exc)
    shop = st["shop"].split(":", 1)[1]
    if principal is not None and principal.kind == "resident" and shop not in {
            s["shop"] for s in await _run(counter.shops_of, principal.name)}:
        return _problem(BadAmount("お店の担当者ではありません", "not staff of this shop"))
    if request.path_params.get("format") == "json":
        return JSONResponse(await sealed(_ctx(request), st))
    if request.path_params.get("format") != "csv":
        return _problem(UnknownTransaction("形式は csv か json です", "format is csv or json"))
    return Response(statement_csv(st), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="statement-{st["id"]}.csv"'})


# --- console ---------------------------------------------------------------------------
def _months(today: dt.date, n: int = 3) -> list[str]:
    out, year, month = [], today.year, today.month
    for _ in range(n):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out


async def console_page(request: Request) -> Response:
    counter = _counter(request)
    today = dt.datetime.now(JST).date()
    with counter.ledger.reading() as conn:
        totals = ledger_totals(conn)
        months = [circulation(conn, m) for m in _months(today)]
        closed = conn.execute("SELECT max(day) FROM closes").fetchone()[0]
    shops = await _run(counter.shops)
    for s in shops:
        s["balance"] = (await _run(counter.ledger.balance, shop_account(s["shop"])))["total"]
    return render(request, "wallet/console.html", {
        "nav": CONSOLE_NAV, "section": "services", "staff": staff_name(request),
        "can_edit": can_edit(request), "flash": request.query_params.get("done", ""),
        "totals": totals, "months": months, "shops": shops, "closed": closed or "",
        "yesterday": (today - dt.timedelta(days=1)).isoformat(),
        "default_expiry": (today + dt.timedelta(
            days=int(_ctx(request).options["points_days"]))).isoformat()})


def _done(flash: str) -> Response:
    return RedirectResponse(f"{CONSOLE}?done={quote(flash)}", status_code=303)


async def _console_form(request: Request, action: str) -> Response:
    form = await form_of(request)
    counter = _counter(request)
    ledger = counter.ledger
    key = form.get("key", "")
    try:
        if action == "issue":
            login = form.get("login", "").strip()
            resident = await request.app.state.access.residents.by_login(login)
            if resident is None:
                raise BadAmount(f"ログイン名 {login} の住民はいません", f"no resident {login}")
            expires = form.get("expires") or None
            result = await _run(ledger.issue, key, str(resident["id"]), int(form["amount"]),
                                form.get("kind", "points"),
                                dt.date.fromisoformat(expires) if expires else None,
                                form.get("memo", "")[:100])
            return _done(f"発行しました / issued: {login} {result['amount']:,}")
        if action == "shop":
            await _run(ledger.open_shop, key, form.get("shop", "").strip(),
                       form.get("name", "").strip(), form.get("local", "yes") == "yes")
            return _done("お店を登録しました / shop registered")
        if action == "staff":
            login = form.get("login", "").strip()
            resident = await request.app.state.access.residents.by_login(login)
            if resident is None:
                raise BadAmount(f"ログイン名 {login} の住民はいません", f"no resident {login}")
            await _run(counter.add_staff, form.get("shop", ""), str(resident["id"]))
            return _done("担当者を登録しました / staff added")
        if action == "settle":
            st = await _run(ledger.settle, key, form.get("shop", ""))
            return _done(f"換金しました / settled: {st['amount']:,}")
        if action == "close":
            day = dt.date.fromisoformat(form.get("day", ""))
            await _run(ledger.close_day, day)
            return _done(f"{day.isoformat()} を締めました / closed")
        if action == "expire":
            moved = await _run(ledger.expire, key, dt.datetime.now(JST).date())
            return _done(f"期限切れ / expired: {moved['amount']:,}")
    except (ValueError, KeyError):
        return _done("入力を確かめてください / check the form")
    except WalletError as exc:
        return _done(str(exc))
    return _done("")


def _form_action(action: str) -> Any:
    async def endpoint(request: Request) -> Response:
        return await _console_form(request, action)
    endpoint.__name__ = f"wallet_console_{action}"
    return endpoint


# --- API -------------------------------------------------------------------------------
def _idempotency_key(request: Request) -> str:
    key = request.headers.get("idempotency-key", "")
    if not key:
        raise BadAmount("Idempotency-Key ヘッダーが必要です", "the Idempotency-Key header is "
                        "required")
    principal = request.scope.get(PRINCIPAL)
    return f"{getattr(principal, 'sub', '')}|{key}"  # one caller cannot replay another's key


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError as exc:
        raise BadAmount("JSON が正しくありません", "the body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise BadAmount("JSON オブジェクトを送ってください", "send a JSON object")
    return body


def _safe(fn: Any) -> Any:
    """A page that answers a refusal (e.g. a staff admin on a resident's page) with the
    wallet's error page, never a server error."""
    async def endpoint(request: Request) -> Response:
        try:
            response: Response = await fn(request)
            return response
        except WalletError as exc:
            return _page_error(request, exc)
    endpoint.__name__ = fn.__name__
    return endpoint


def _api(fn: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            return await fn(request)
        except WalletError as exc:
            return _problem(exc)
    endpoint.__name__ = fn.__name__
    return endpoint


async def api_balance(request: Request) -> Response:
    me = _me(request)
    ledger = _counter(request).ledger
    try:
        return JSONResponse(await _run(ledger.balance, resident_account(me)))
    except WalletError:
        return JSONResponse({"account": resident_account(me), "total": 0,
                             "byKind": dict.fromkeys(KINDS, 0), "lots": []})


async def api_history(request: Request) -> Response:
    me = _me(request)
    return JSONResponse(await _run(_counter(request).ledger.history, resident_account(me), 100))


async def api_pay(request: Request) -> Response:
    me = _me(request)
    key = _idempotency_key(request)
    body = await _json(request)
    counter = _counter(request)
    if "code" in body:
        req = await _run(counter.request, str(body["code"]))
        paid = await _run(counter.pay, req["code"], resident_account(me))
        shop_name = req["shopName"]
    else:
        kinds = body.get("kinds", list(KINDS))
        paid = await _run(counter.ledger.pay, key, resident_account(me), str(body.get("shop")),
                          body.get("amount"), tuple(kinds) if isinstance(kinds, list) else kinds,
                          str(body.get("memo", ""))[:100])
        shop_name = paid["payee"]
    _ctx(request).spawn(record_purchase(_ctx(request), me, paid, shop_name))
    return JSONResponse(paid, status_code=201)


async def api_ask(request: Request) -> Response:
    me = _me(request)
    body = await _json(request)
    counter = _counter(request)
    shop = str(body.get("shop", ""))
    if shop not in {s["shop"] for s in await _run(counter.shops_of, me)}:
        raise BadAmount("お店の担当者ではありません", "you are not staff of this shop")
    _within(request, body.get("amount"))
    req = await _run(counter.ask, shop, body.get("amount"),
                     int(_ctx(request).options["request_minutes"]), str(body.get("memo", "")))
    req["url"] = f"{_ctx(request).settings.public_url}{APP}/pay/{req['code']}"
    return JSONResponse(req, status_code=201)


async def api_request(request: Request) -> Response:
    _me(request)
    req = await _run(_counter(request).request, request.path_params["code"])
    req.pop("payer", None)
    return JSONResponse(req)


async def api_issue(request: Request) -> Response:
    key = _idempotency_key(request)
    body = await _json(request)
    expires = body.get("expirationDateOfMoney")
    try:
        when = dt.date.fromisoformat(expires) if expires else None
    except (TypeError, ValueError) as exc:
        raise BadAmount("expirationDateOfMoney は YYYY-MM-DD です",
                        "expirationDateOfMoney is YYYY-MM-DD") from exc
    result = await _run(_counter(request).ledger.issue, key, str(body.get("resident", "")),
                        body.get("amount"), str(body.get("kind", "points")), when,
                        str(body.get("memo", ""))[:100])
    return JSONResponse(result, status_code=201)


async def api_totals(request: Request) -> Response:
    return JSONResponse(await _run(_counter(request).ledger.totals))


async def api_circulation(request: Request) -> Response:
    month = request.query_params.get("month") or dt.datetime.now(JST).strftime("%Y-%m")
    try:
        dt.date.fromisoformat(month + "-01")
    except ValueError as exc:
        raise BadAmount("month は YYYY-MM です", "month is YYYY-MM") from exc
    with _counter(request).ledger.reading() as conn:
        return JSONResponse(circulation(conn, month))


async def console_export(request: Request) -> Response:
    """The ledger as a beancount download for a signed-in clerk (the API's export.beancount
    wants a bearer token, which a browser's link does not send)."""
    text = await _run(export_beancount, _counter(request).ledger)
    return Response(text, media_type="text/plain; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="town.beancount"'})


async def api_export(request: Request) -> Response:
    text = await _run(export_beancount, _counter(request).ledger)
    return Response(text, media_type="text/plain; charset=utf-8")


_CODE = (Param("code", "path", required=True),)
_HOLD = (Param("holdId", "path", required=True),)
_KEY = (Param("Idempotency-Key", "header", required=True,
              description="the same key and body give the first result; another body: 409"),)
_FORM = {303: "done: back to the page", 400: "HTML error page"}
_API_ERR = {400: "ProblemDetails", 404: "ProblemDetails", 409: "ProblemDetails"}
_PAY_BODY = {"type": "object", "properties": {
    "code": {"type": "string"}, "shop": {"type": "string"}, "amount": {"type": "integer"},
    "kinds": {"type": "array", "items": {"type": "string", "enum": list(KINDS)}},
    "memo": {"type": "string"}}}
_ASK_BODY = {"type": "object", "properties": {"shop": {"type": "string"},
                                               "amount": {"type": "integer"},
                                               "memo": {"type": "string"}}}
_ISSUE_BODY = {"type": "object", "properties": {
    "resident": {"type": "string"}, "amount": {"type": "integer"},
    "kind": {"type": "string", "enum": list(KINDS)},
    "expirationDateOfMoney": {"type": "string", "format": "date"}, "memo": {"type": "string"}}}

OPERATIONS: list[Operation] = [
    page("GET", APP, _safe(wallet_page), "Town currency: balance, history, pay (デジタル通貨)", RESIDENT),
    page("GET", f"{APP}/pay", _safe(pay_code), "Pay: the shop's code typed by hand", RESIDENT,
         responses={303: "to the confirmation", 400: "not a code"},
         params=(Param("code"),)),
    page("GET", f"{APP}/pay/{{code}}", _safe(confirm_page), "Confirm a payment request (the QR's link)",
         RESIDENT, responses={200: "HTML page", 404: "no such request"}, params=_CODE),
    page("POST", f"{APP}/pay/{{code}}", _safe(confirm), "Pay a payment request", RESIDENT,
         responses={303: "paid", 404: "no such request", 409: "lapsed, paid, or not enough"},
         params=_CODE),
    page("GET", f"{APP}/paid/{{code}}", _safe(paid_page), "The payment done", RESIDENT, params=_CODE),
    page("POST", f"{APP}/show", _safe(show_code), "Show my code for the shop to charge", RESIDENT,
         responses=_FORM),
    page("GET", f"{APP}/show/{{code}}", _safe(show_page), "My payment code (QR) for the shop",
         RESIDENT, params=_CODE),
    page("POST", f"{APP}/holds/{{holdId}}/post", _safe(confirm_hold),
         "Confirm a payment the shop charged", RESIDENT, responses=_FORM, params=_HOLD),
    page("POST", f"{APP}/holds/{{holdId}}/void", _safe(cancel_hold),
         "Cancel a payment the shop charged", RESIDENT, responses=_FORM, params=_HOLD),
    page("POST", f"{APP}/shop/charge", _safe(shop_charge),
         "Shop: charge the code a customer shows (she confirms)", RESIDENT, responses=_FORM),
    page("GET", f"{APP}/shop/holds/{{holdId}}", _safe(shop_hold_page),
         "Shop: a charged payment, waiting for the customer", RESIDENT, params=_HOLD),
    page("GET", f"{APP}/shop", _safe(shop_page), "Shop screen: ask for a payment, sales, statements",
         RESIDENT, params=(Param("shop"),)),
    page("POST", f"{APP}/shop/requests", _safe(shop_ask), "Shop: a new payment request (QR)", RESIDENT,
         responses=_FORM),
    page("GET", f"{APP}/shop/requests/{{code}}", _safe(shop_request_page),
         "Shop: the payment request's QR code and state", RESIDENT, params=_CODE),
    page("GET", CONSOLE, console_page, "Console: the town currency (デジタル通貨)", STAFF_READ,
         tag="console"),
    page("GET", f"{CONSOLE}/export.beancount", console_export,
         "Console: download the ledger as a beancount file", STAFF_READ, tag="console",
         responses={200: "beancount"}),
    *[page("POST", f"{CONSOLE}/{action}", _form_action(action), summary, STAFF_WRITE,
           tag="console", responses=_FORM)
      for action, summary in (("issue", "Issue vouchers or points to a resident"),
                              ("shop", "Register a shop"), ("staff", "Add a shop's staff"),
                              ("settle", "Settle a shop's balance"),
                              ("close", "Close a business day"),
                              ("expire", "Move expired balances out"))],
    Operation("GET", f"{API}/balance", _api(api_balance), "My balance by kind and expiry",
              NAME, responses={200: "balance"}, policy=RESIDENT),
    Operation("GET", f"{API}/history", _api(api_history), "My latest transactions", NAME,
              responses={200: "transactions"}, policy=RESIDENT),
    Operation("POST", f"{API}/payments", _api(api_pay),
              "Pay a shop (a payment request's code, or shop and amount)", NAME, params=_KEY,
              body=_PAY_BODY, responses={201: "the payment", **_API_ERR}, policy=RESIDENT),
    Operation("POST", f"{API}/payment-requests", _api(api_ask),
              "Shop staff: ask for a payment (code and QR link)", NAME, body=_ASK_BODY,
              responses={201: "the request", **_API_ERR}, policy=RESIDENT),
    Operation("GET", f"{API}/payment-requests/{{code}}", _api(api_request),
              "A payment request: shop, amount, state", NAME, params=_CODE,
              responses={200: "the request", **_API_ERR}, policy=RESIDENT),
    Operation("POST", f"{API}/issues", _api(api_issue),
              "Town staff: issue money or points to a resident", NAME, params=_KEY,
              body=_ISSUE_BODY, responses={201: "the transaction", **_API_ERR},
              policy=STAFF_WRITE),
    Operation("GET", f"{API}/totals", _api(api_totals),
              "Issued, expired, settled, pending and held totals", NAME,
              responses={200: "totals"}, policy=STAFF_READ),
    Operation("GET", f"{API}/circulation", _api(api_circulation),
              "A month's spending and the share at shops in town", NAME,
              params=(Param("month", description="YYYY-MM (JST)"),),
              responses={200: "figures", 400: "ProblemDetails"}, policy=STAFF_READ),
    Operation("GET", f"{API}/export.beancount", _api(api_export),
              "The whole ledger as a beancount file", NAME, responses={200: "beancount"},
              policy=STAFF_READ),
    Operation("GET", f"{API}/statements/{{statementId}}.{{format}}", statement_download,
              "A settlement statement: CSV, or JSON sealed by the service (eシール)", NAME,
              params=(Param("statementId", "path", required=True),
                      Param("format", "path", {"type": "string", "enum": ["csv", "json"]},
                            required=True)),
              responses={200: "CSV", **_API_ERR},
              policy=Policy(roles=("operator", "viewer", RESIDENT_ROLE))),
]
