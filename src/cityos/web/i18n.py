"""The words of the pages in Japanese (the default) and English: one catalogue, `t(key)`.

Plain Japanese first (やさしい日本語 where it fits): short sentences, everyday words.
Helpers add their keys with `add_messages` (the console keeps its own block of keys).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "ja"

Translator = Callable[..., str]

MESSAGES: dict[str, tuple[str, str]] = {
    # the frame of every page
    "site.name": ("まちのアプリ", "Town app"),
    "skip": ("本文へ移動", "Skip to main content"),
    "nav.label": ("メニュー", "Menu"),
    "nav.home": ("ホーム", "Home"),
    "nav.mydata": ("わたしのデータ", "My data"),
    "nav.family": ("家族の代わりに", "For my family"),
    "nav.settings": ("文字と色", "Text and colours"),
    "nav.signin": ("サインイン", "Sign in"),
    "nav.signout": ("サインアウト", "Sign out"),
    "lang.switch": ("English", "日本語"),
    "lang.switch.label": ("Switch to English", "日本語に切り替え"),
    "footer.text": ("豊能町 と まちのサービス会社", "Toyono town and its service companies"),
    # display settings
    "prefs.title": ("表示の設定", "Display settings"),
    "prefs.lead": ("文字の大きさと色を選べます。いつでも変えられます。",
                   "Choose the text size and colours. You can change them at any time."),
    "prefs.size": ("文字の大きさ", "Text size"),
    "prefs.size.normal": ("ふつう", "Normal"),
    "prefs.size.large": ("大きい", "Large"),
    "prefs.size.xlarge": ("とても大きい", "Very large"),
    "prefs.contrast": ("色", "Colours"),
    "prefs.contrast.normal": ("ふつう", "Normal"),
    "prefs.contrast.high": ("白黒ではっきり", "High contrast"),
    "prefs.language": ("ことば", "Language"),
    "prefs.save": ("この設定にする", "Use these settings"),
    "prefs.saved": ("設定を変えました。", "Settings changed."),
    # errors and the offline page
    "error.title": ("ページを表示できません", "This page cannot be shown"),
    "error.401": ("サインインしてください。", "Please sign in."),
    "error.403": ("このページを見る権限がありません。", "You may not see this page."),
    "error.404": ("ページが見つかりません。", "The page was not found."),
    "error.400": ("送られた内容を確認できませんでした。もう一度お試しください。",
                  "What was sent could not be checked. Please try again."),
    "error.other": ("うまくいきませんでした。少し待ってから、もう一度お試しください。",
                    "Something went wrong. Please wait a little and try again."),
    "error.back": ("ホームにもどる", "Back to the home page"),
    "root.title": ("まちのデータ基盤", "The town's platform"),
    "root.residents": ("住民の方", "Residents"),
    "root.residents.what": ("まちのサービスを使い、あなたのデータの使われ方を決めます。",
                            "Use the town's services and decide how your data is used."),
    "root.residents.go": ("まちのアプリを開く", "Open the town app"),
    "root.staff": ("役場の職員の方", "Town office staff"),
    "root.staff.what": ("地図、お知らせ、サービス、アカウント、アラートを見て管理します。",
                        "The map, notices, services, accounts and alerts."),
    "root.staff.go": ("コンソールを開く", "Open the console"),
    "root.companies": ("事業者・開発者の方", "Companies and developers"),
    "root.companies.what": ("NGSI-LD と NGSI v2 の API です。説明 (OpenAPI) はこちらです。",
                            "The NGSI-LD and NGSI v2 APIs, described in OpenAPI."),
    "root.companies.go": ("API の説明", "API description"),
    "error.csrf": ("ページが古くなりました。もう一度ページを開いてから操作してください。",
                   "This page is out of date. Open it again, then try once more."),
    "offline.title": ("インターネットにつながっていません", "You are offline"),
    "offline.lead": ("電波の良いところで、もう一度お試しください。急ぎの時は役場に電話してください。",
                     "Please try again where the signal is better. If it is urgent, "
                     "call the town office."),
    "offline.phone": ("豊能町役場 072-739-0001", "Toyono town office 072-739-0001"),
    "offline.retry": ("もう一度読みこむ", "Try again"),
    "soon": ("準備中です", "Coming soon"),
}


def add_messages(messages: Mapping[str, tuple[str, str]]) -> None:
    """Add a block of keys (Japanese, English); a key defined twice is a mistake."""
    twice = set(messages) & set(MESSAGES)
    if twice:
        raise ValueError(f"message keys defined twice: {sorted(twice)}")
    MESSAGES.update(messages)


def translate(lang: str, key: str, **values: object) -> str:
    """The text of `key` in `lang` (Japanese when unknown), with `{name}` values filled in."""
    pair = MESSAGES.get(key)
    if pair is None:
        return key  # visible in the page and caught by the catalogue test
    text = pair[1] if lang == "en" else pair[0]
    return text.format(**values) if values else text


def pick(text: str, lang: str) -> str:
    """One language of a platform message written "日本語 / English"."""
    ja, sep, en = text.partition(" / ")
    return en if sep and lang == "en" else ja


def translator(lang: str) -> Translator:
    """`t(key, **values)` for templates, bound to one language."""

    def t(key: str, **values: object) -> str:
        return translate(lang, key, **values)

    return t
