"""Residents sign in to the app: password, passkey (the browser's ceremony against
/auth/passkeys/…, its token handed to the session), or sign up; and sign out.

The same accounts, lockout and throttle as the /auth endpoints (access/residents.py).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cityos.access._oauth import throttled
from cityos.access.accounts import AccountError, BadCredentials, Locked
from cityos.access.service import access_of, resident_principal
from cityos.access.tokens import TokenError
from cityos.operations import RESIDENT_ROLE
from cityos.web.i18n import add_messages, pick
from cityos.web.pages import form_of, safe_next
from cityos.web.render import prefs_of, render
from cityos.web.session import session_of

add_messages({
    "signin.title": ("サインイン", "Sign in"),
    "signin.expired": ("しばらく操作がなかったため、サインインが切れました。さきほどの操作はまだ行われて"
                       "いません。もう一度サインインすると元のページにもどりますので、やり直して"
                       "ください。",
                       "Your sign-in ran out after a while without use. What you just did has "
                       "not been done yet. Sign in again to go back to the page, and do it "
                       "again."),
    "reset.link": ("パスワードを忘れたとき", "Forgot your password?"),
    "reset.title": ("パスワードを再設定する", "Set a new password"),
    "reset.lead": ("役場の窓口で本人確認をすると、再設定コードを受け取れます（24時間有効・1回だけ）。"
                   "そのコードと新しいパスワードを入力してください。",
                   "At the town office counter, after checking who you are, staff give you a "
                   "reset code (works once, for 24 hours). Enter it with a new password."),
    "reset.code": ("再設定コード（例: ABCD-2345-WXYZ）", "Reset code (e.g. ABCD-2345-WXYZ)"),
    "reset.new": ("新しいパスワード（12文字以上）", "New password (12 characters or more)"),
    "reset.submit": ("パスワードを変える", "Change the password"),
    "reset.wrong": ("ログイン名か再設定コードが違うか、コードの期限が切れています。窓口でもう一度"
                    "発行してもらってください。",
                    "The login name or the code is wrong, or the code has expired. Ask the "
                    "counter for a new one."),
    "reset.short": ("パスワードは12文字以上にしてください。", "Use at least 12 characters."),
    "reset.done": ("パスワードを変えました。新しいパスワードでサインインしてください。",
                   "Your password was changed. Sign in with the new password."),
    "signin.lead": ("まちのサービスと、あなたのデータの使われ方を見るために、サインインしてください。",
                    "Sign in to use the town's services and to see how your data is used."),
    "signin.login": ("ログイン名", "Login name"),
    "signin.password": ("パスワード", "Password"),
    "signin.submit": ("サインインする", "Sign in"),
    "signin.passkey": ("パスキー（指紋・顔・画面ロック）でサインイン",
                       "Sign in with a passkey (fingerprint, face or screen lock)"),
    "signin.passkey.hint": ("パスワードを覚えなくても、この端末でサインインできます。",
                            "Sign in on this device without remembering a password."),
    "signin.or": ("または", "or"),
    "signin.wrong": ("ログイン名かパスワードが違います。もう一度入力してください。",
                     "The login name or password is wrong. Please type them again."),
    "signin.locked": ("失敗が続いたため、しばらくサインインできません。時間をおいてお試しください。",
                      "Too many failed tries: please wait a while, then try again."),
    "signin.missing": ("ログイン名とパスワードを入力してください。",
                       "Please type your login name and password."),
    "signin.new": ("はじめての方", "New here?"),
    "signin.new.link": ("アカウントを作る", "Create an account"),
    "signin.help": ("わからないときは、役場の窓口でお手伝いします。",
                    "If you need help, the town office counter will help you."),
    "signin.passkey.failed": ("パスキーでサインインできませんでした。",
                              "Could not sign in with a passkey."),
    "signup.title": ("アカウントを作る", "Create an account"),
    "signup.lead": ("ログイン名は、メールアドレスなど覚えやすいものにしてください。",
                    "Choose a login name you remember easily, such as your e-mail address."),
    "signup.password.hint": ("パスワードは12文字以上にしてください。",
                             "Use a password of at least 12 characters."),
    "signup.submit": ("パスワードで作る", "Create with a password"),
    "signup.passkey": ("パスキーで作る（パスワードなし）", "Create with a passkey (no password)"),
    "signup.closed": ("この町では、アカウントは役場で作ります。", "In this town, accounts are made "
                      "at the town office."),
    "signup.failed": ("アカウントを作れませんでした: {reason}", "Could not create the account: {reason}"),
    "signout.done": ("サインアウトしました。", "You are signed out."),
})


async def signin_page(request: Request) -> Response:
    """The sign-in page (password, passkey); `next` is where to go afterwards."""
    if session_of(request).signed_in:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _signin_form(request, request.query_params.get("next", ""))


def _signin_form(request: Request, next_path: str, error: str = "", login: str = "",
                 status: int = 200) -> Response:
    access_settings = request.app.state.settings.access
    return render(request, "app/signin.html", {
        "next": safe_next(next_path), "error": error, "login": login,
        "signed_out": "signed_out" in request.query_params,
        "expired": "expired" in request.query_params,
        "reset_done": "reset" in request.query_params,
        "signup_open": access_settings.resident_signup,
        "oidc": bool(request.app.state.settings.personal.oidc_issuer)}, status=status)


def reset_page(request: Request, error: str = "", login: str = "",
               status: int = 200) -> Response:
    """Set a new password with the code the counter gave (no e-mail needed)."""
    return render(request, "app/reset.html", {"error": error, "login": login}, status=status)


async def reset_form_page(request: Request) -> Response:
    return reset_page(request)


async def reset(request: Request) -> Response:
    data = await form_of(request)
    login = data.get("login", "").strip()
    access = await access_of(request.app)
    residents = access.residents
    if throttled(access, request) is not None:  # as sign-in: each try costs a hash check
        return reset_page(request, "signin.locked", login, 429)
    try:
        await residents.reset_password(login, data.get("code", ""), data.get("password", ""))
    except AccountError:
        return reset_page(request, "reset.short", login, 400)
    except BadCredentials:
        return reset_page(request, "reset.wrong", login, 401)
    return RedirectResponse("/app/signin?reset=1", status_code=303)


async def signin(request: Request) -> Response:
    """Check login name and password; start the session and go on to `next`."""
    access = await access_of(request.app)
    data = await form_of(request)
    next_path, login = data.get("next", ""), data.get("login", "").strip()
    if throttled(access, request) is not None:
        return _signin_form(request, next_path, "signin.locked", login, 429)
    if not login or not data.get("password"):
        return _signin_form(request, next_path, "signin.missing", login, 400)
    try:
        resident = await access.residents.authenticate(login, data["password"])
    except Locked:
        return _signin_form(request, next_path, "signin.locked", login, 429)
    except BadCredentials:
        return _signin_form(request, next_path, "signin.wrong", login, 401)
    principal = resident_principal(resident)
    session_of(request).sign_in(principal, await access.issue(principal))
    return RedirectResponse(safe_next(next_path), status_code=303)


async def signin_with_token(request: Request) -> Response:
    """The passkey page's script hands over the token the ceremony answered; a resident's
    own valid token starts the session (204, the script then goes on)."""
    access = await access_of(request.app)
    token = (await form_of(request)).get("token", "")
    try:
        principal = await access.verifier.verify(token)
    except TokenError:
        return Response(status_code=400)
    if RESIDENT_ROLE not in principal.roles or await access.account_of(principal) is None:
        return Response(status_code=400)
    session_of(request).sign_in(principal, token)
    return Response(status_code=204)


async def signup_page(request: Request) -> Response:
    return render(request, "app/signup.html", {
        "next": safe_next(request.query_params.get("next")), "error": "", "login": "",
        "signup_open": request.app.state.settings.access.resident_signup})


async def signup(request: Request) -> Response:
    """Open an account with a login name and password, and sign in."""
    access = await access_of(request.app)
    data = await form_of(request)
    login, next_path = data.get("login", "").strip(), safe_next(data.get("next"))
    context = {"next": next_path, "login": login,
               "signup_open": access.settings.resident_signup, "error": ""}
    if not access.settings.resident_signup:
        return render(request, "app/signup.html", context, status=403)
    if not login or not data.get("password"):
        return render(request, "app/signup.html", {**context, "error": "signin.missing"},
                      status=400)
    if (slow := throttled(access, request)) is not None:
        return render(request, "app/signup.html", {**context, "error": "signin.locked"},
                      status=slow.status_code)
    try:
        resident = await access.residents.add_resident(
            login, tenant=access.settings.resident_tenant, password=data["password"])
    except AccountError as exc:
        reason = pick(str(exc), prefs_of(request.scope).lang)
        return render(request, "app/signup.html",
                      {**context, "error": "signup.failed", "reason": reason}, status=400)
    principal = resident_principal(resident)
    session_of(request).sign_in(principal, await access.issue(principal))
    return RedirectResponse(next_path, status_code=303)


async def signout(request: Request) -> Response:
    session_of(request).sign_out()
    return RedirectResponse("/app/signin?signed_out=1", status_code=303)
