"""The resident app's pages under /app, each declared with its policy (deny by default)."""

from __future__ import annotations

from cityos.operations import PUBLIC, Operation, Param
from cityos.web.app import home, mydata, oidc, pwa, signin, summary
from cityos.web.pages import RESIDENT_PAGE, page

_SERVICE = (Param("serviceId", "path", required=True),)
_CONSENT = (Param("consentId", "path", required=True),)


OPERATIONS: list[Operation] = [
    page("GET", "/app/signin", signin.signin_page, "Sign-in page (サインイン)", PUBLIC,
         responses={200: "HTML page", 303: "signed in already"}),
    page("POST", "/app/signin", signin.signin, "Sign in with login name and password", PUBLIC,
         responses={303: "signed in", 400: "missing or stale form", 401: "wrong login",
                    429: "locked or too many attempts"}),
    page("POST", "/app/signin/token", signin.signin_with_token,
         "Start the page session with a passkey sign-in's token", PUBLIC,
         responses={204: "signed in", 400: "not a resident's valid token"}),
    page("GET", "/app/signin/oidc", oidc.oidc_signin,
         "Sign in through the identity provider (My Number card)", PUBLIC,
         responses={303: "to the provider", 404: "no provider configured"}),
    page("GET", oidc.CALLBACK, oidc.oidc_callback, "The identity provider's answer", PUBLIC,
         responses={303: "signed in", 400: "not started in this browser",
                    403: "refused"}),
    page("GET", "/app/reset", signin.reset_form_page,
         "Forgot the password: set a new one with the counter's code", PUBLIC),
    page("POST", "/app/reset", signin.reset, "Set a new password with a one-time reset code",
         PUBLIC, responses={303: "changed: on to sign-in", 400: "too short",
                            401: "wrong, used or expired code"}),
    page("GET", "/app/signup", signin.signup_page, "Sign-up page (アカウントを作る)", PUBLIC),
    page("POST", "/app/signup", signin.signup, "Open a resident account with a password",
         PUBLIC, responses={303: "signed in", 400: "invalid", 403: "sign-up closed"}),
    page("POST", "/app/signout", signin.signout, "Sign out", PUBLIC,
         responses={303: "signed out"}),
    Operation("GET", "/app/manifest.webmanifest", pwa.manifest, "Web app manifest (PWA)", "app",
              responses={200: "manifest"}, policy=PUBLIC),
    Operation("GET", "/app/sw.js", pwa.service_worker, "Service worker (offline page)", "app",
              responses={200: "script", 304: "not modified"}, policy=PUBLIC),
    page("GET", "/app", home.home, "Home: notices and the town's services (ホーム)",
         RESIDENT_PAGE),
    page("GET", "/app/services/{serviceId}", home.service_page,
         "One service: provider, price, data it uses", RESIDENT_PAGE,
         responses={200: "HTML page", 404: "no such service"}, params=_SERVICE),
    page("GET", "/app/mydata", mydata.mydata_page,
         "My data: consents, data tracker, linked IDs, export, erasure (わたしのデータ)",
         RESIDENT_PAGE),
    page("POST", "/app/mydata/consents/{consentId}", mydata.consent_switch,
         "Switch one consent on or off", RESIDENT_PAGE,
         responses={200: "the consent's row (htmx)", 303: "back to my data", 400: "invalid",
                    404: "no such consent"}, params=_CONSENT),
    page("GET", "/app/mydata/export", mydata.export_download,
         "Download all my data (JSON)", RESIDENT_PAGE,
         responses={200: "JSON file or HTML page"}),
    page("GET", "/app/mydata/summary", summary.summary_page,
         "My data in plain words: what is held, who may use it, who did (printable)",
         RESIDENT_PAGE),
    page("GET", "/app/mydata/erase", mydata.erase_page, "Erasure: the confirmation step",
         RESIDENT_PAGE),
    page("POST", "/app/mydata/erase", mydata.erase, "Erase my personal data", RESIDENT_PAGE,
         responses={200: "erased", 400: "not confirmed"}),
    page("GET", "/app/family", mydata.family_page,
         "Family representative: whom I act for (家族の代わりに使う)", RESIDENT_PAGE),
    page("POST", "/app/family", mydata.family_switch, "Act for a family member, or as myself",
         RESIDENT_PAGE, responses={303: "switched", 400: "invalid", 403: "no mandate"}),
]
