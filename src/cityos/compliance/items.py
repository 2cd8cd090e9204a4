"""The 55 items of the guideline's checklist, each with what the platform can check itself
(from the live state) and what people must attach as evidence.

Status of a check and an item, worst first: `ng` (要対応: must be fixed), `warn` (注意),
`task` (要証跡: people must attach evidence), `attested` (証跡登録済み), `ok` (適合), `na`
(該当なし). An item with checks takes the worst of them; an item people alone can evidence
is `task` until evidence is registered (`cityos compliance attest`), then `attested`; so is
an item whose checks pass but which also asks people for evidence.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from cityos.compliance.state import LiveState

ORDER = ("ng", "warn", "task", "attested", "ok", "na")
STATUS_JA = {"ng": "要対応", "warn": "注意", "task": "要証跡", "attested": "証跡登録済み",
             "ok": "適合", "na": "該当なし"}
STATUS_EN = {"ng": "action needed", "warn": "attention", "task": "evidence needed",
             "attested": "evidence registered", "ok": "met", "na": "not applicable"}
CATEGORY_JA = {"governance": "ガバナンス", "service": "サービス", "city_os": "都市OS",
               "asset": "アセット", "supply_chain": "サプライチェーン",
               "incident_response": "インシデント対応", "data_linkage": "データ連携"}
EVIDENCE_DAYS = 365  # registered evidence counts this long (policies are reviewed yearly)


@dataclass(frozen=True)
class Check:
    key: str
    label: str  # Japanese
    status: str
    detail: str  # Japanese (numbers and names as found)

    def to_json(self) -> dict[str, Any]:
        return {"check": self.key, "label": self.label, "status": self.status,
                "detail": self.detail}


def _when(state: LiveState, at: float | None) -> str:
    days = state.age_days(at)
    if days is None:
        return "なし"
    return f"{days * 24:.1f}時間前" if days < 2 else f"{days:.0f}日前"


# checks: each reads the live state and answers one Check -----------------------------------
def tls(s: LiveState) -> Check:
    st = s.settings
    if st.tls_cert:
        return Check("tls", "通信の暗号化 (HTTPS/TLS)", "ok", f"TLS 証明書 {st.tls_cert} で HTTPS のみ")
    if st.base_url.startswith("https://"):
        return Check("tls", "通信の暗号化 (HTTPS/TLS)", "warn",
                     f"公開URL {st.base_url} は HTTPS。TLS を終端するプロキシの設定を証跡として添付")
    return Check("tls", "通信の暗号化 (HTTPS/TLS)", "ng",
                 "TLS が設定されていません (tls_cert / tls_key、または HTTPS のプロキシ)")


def api_tokens(s: LiveState) -> Check:
    if s.settings.ngsi.open_ngsi:
        return Check("api-tokens", "API のアクセス制御", "ng",
                     "ngsi.open_ngsi が有効: NGSI-LD API がトークンなしで使えます")
    return Check("api-tokens", "API のアクセス制御", "ok",
                 "すべての API がトークン必須 (既定で拒否、型ごとの許可)")


def rate_limit(s: LiveState) -> Check:
    a = s.settings.access
    if a.rate_per_second <= 0:
        return Check("rate-limit", "過負荷対策 (レート制限)", "ng", "access.rate_per_second = 0 (無制限)")
    return Check("rate-limit", "過負荷対策 (レート制限)", "ok",
                 f"クライアントごと毎秒 {a.rate_per_second:g} 件、瞬間 {a.rate_burst} 件まで")


def cors(s: LiveState) -> Check:
    origins = s.settings.access.cors_origins
    if "*" in origins:
        return Check("cors", "クロスドメイン通信の制限 (CORS)", "ng", "access.cors_origins に * があります")
    return Check("cors", "クロスドメイン通信の制限 (CORS)", "ok",
                 f"許可したオリジンのみ: {', '.join(origins) or 'なし'}")


def egress(s: LiveState) -> Check:
    allow = s.settings.egress.allow
    wide = [a for a in allow if a.endswith("/0")]
    if wide:
        return Check("egress", "外向き通信の制限 (egress)", "ng", f"egress.allow が全体を許可: {wide}")
    return Check("egress", "外向き通信の制限 (egress)", "ok",
                 f"内部宛ての通信は許可したものだけ: {', '.join(allow) or 'なし'}")


def accounts(s: LiveState) -> Check:
    flagged = [r for r in s.accounts if r["kind"] != "resident"
               and {"unused", "locked"} & set(r["flags"]) and "disabled" not in r["flags"]]
    staff = [r for r in s.accounts if r["kind"] == "staff"]
    orgs = [r for r in s.accounts if r["kind"] == "organisation"]
    detail = f"職員 {len(staff)}、事業者 {len(orgs)} アカウント (cityos accounts review で一覧)"
    if flagged:
        names = ", ".join(r["name"] for r in flagged[:5])
        return Check("accounts", "アカウントの棚卸し", "warn",
                     f"{detail}。未使用・ロック中で見直しが必要: {len(flagged)} 件 ({names})")
    return Check("accounts", "アカウントの棚卸し", "ok", detail + "。見直しが必要なものなし")


def secrets_age(s: LiveState) -> Check:
    old = [r["name"] for r in s.accounts if "secret-too-old" in r["flags"]]
    days = s.settings.access.secret_max_age_days
    if old:
        return Check("secret-age", "事業者のクライアントシークレットの更新", "warn",
                     f"{days}日より古いシークレット: {', '.join(old[:5])}")
    return Check("secret-age", "事業者のクライアントシークレットの更新", "ok",
                 f"すべて {days}日以内に更新済み")


def password_policy(s: LiveState) -> Check:
    from cityos.access.residents import MIN_PASSWORD

    return Check("password", "パスワードの基準", "ok" if MIN_PASSWORD >= 12 else "ng",
                 f"{MIN_PASSWORD}文字以上、Argon2id でハッシュ化 (職員の初期パスワードは自動生成)")


def lockout(s: LiveState) -> Check:
    a = s.settings.access
    if a.lockout_after <= 0 or a.lockout_after > 10:
        return Check("lockout", "ログイン失敗時のロック", "ng",
                     f"access.lockout_after = {a.lockout_after} (1〜10 にしてください)")
    return Check("lockout", "ログイン失敗時のロック", "ok",
                 f"{a.lockout_after}回失敗で {a.lockout_seconds:g}秒ロック (失敗のたびに倍)")


def second_factor(s: LiveState) -> Check:
    roles = s.settings.access.second_factor_roles
    missing = [r["name"] for r in s.accounts if "admin-without-second-factor" in r["flags"]
               and "disabled" not in r["flags"]]
    if "admin" not in roles:
        return Check("second-factor", "管理者の多要素認証 (パスキー)", "ng",
                     "access.second_factor_roles に admin がありません")
    if missing:
        return Check("second-factor", "管理者の多要素認証 (パスキー)", "warn",
                     f"パスキー未登録の管理者: {', '.join(missing[:5])} (次回ログインで登録を求めます)")
    return Check("second-factor", "管理者の多要素認証 (パスキー)", "ok",
                 f"二要素必須のロール: {', '.join(roles)}")


def alerts(s: LiveState) -> Check:
    hook = s.settings.access.alert_webhook
    if not hook:
        return Check("alerts", "セキュリティ警報の通知先", "ng", "access.alert_webhook が未設定 (警報が誰にも届きません)")
    return Check("alerts", "セキュリティ警報の通知先", "ok", "警報 (総当たり・ID走査・急増) を Webhook へ送信")


def verified(s: LiveState) -> Check:
    if s.verify_ok is None:
        return Check("verify", "監査証跡と透明性ログの検証", "task", "検証を実行していません (--no-verify)")
    return Check("verify", "監査証跡と透明性ログの検証", "ok" if s.verify_ok else "ng",
                 ("cityos verify 成功: " if s.verify_ok else "cityos verify 失敗: ") + s.verify_line[:300])


def audit_retention(s: LiveState) -> Check:
    days = s.settings.access.audit_retention_days
    if 0 < days < 365:
        return Check("audit-retention", "ログの保管期間", "warn",
                     f"監査記録を {days}日で削除 (1年以上を推奨)")
    return Check("audit-retention", "ログの保管期間", "ok",
                 "監査記録は無期限保管" if days == 0 else f"監査記録を {days}日保管")


def backup_age(s: LiveState) -> Check:
    last = s.backup_last
    hours = s.settings.backup.max_age_hours
    if last is None:
        return Check("backup", "定期バックアップ", "ng", "バックアップの記録がありません (cityos backup)")
    age = s.age_days(float(last["at"]))
    status = "ok" if age is not None and age * 24 <= hours else "ng"
    return Check("backup", "定期バックアップ", status,
                 f"最新のバックアップ: {_when(s, float(last['at']))} (基準 {hours:g}時間以内)、暗号化 AES-256-GCM")


def restore_drill(s: LiveState) -> Check:
    last = s.drill_last
    days = s.settings.backup.drill_max_days
    if last is None:
        return Check("drill", "復元訓練", "ng", "復元訓練の記録がありません (cityos restore-drill)")
    age = s.age_days(float(last["at"]))
    status = "ok" if age is not None and age <= days else "ng"
    return Check("drill", "復元訓練", status,
                 f"最後の復元訓練 (復元・検証成功): {_when(s, float(last['at']))} (基準 {days:g}日以内)")


def backup_key(s: LiveState) -> Check:
    key = s.key_file
    if key is None or not key.exists():
        return Check("backup-key", "バックアップ鍵の分離保管", "ng", "バックアップ鍵がまだありません")
    if key.resolve().is_relative_to(s.settings.data_dir.resolve()):
        return Check("backup-key", "バックアップ鍵の分離保管", "ng", f"鍵 {key} がデータディレクトリ内にあります")
    return Check("backup-key", "バックアップ鍵の分離保管", "ok",
                 f"鍵はデータディレクトリ外 ({key})。鍵の控えの保管場所は別途記録")


def at_rest(s: LiveState) -> Check:
    return Check("at-rest", "保存データの暗号化", "ok",
                 "住民の個人データは住民ごとの鍵 (AES-256-GCM) で封印、秘密鍵はデータベース外の鍵ストア")


def permissions(s: LiveState) -> Check:
    if s.exposed is not None:
        return Check("permissions", "データディレクトリの権限", "ng",
                     f"{s.exposed} が他のユーザーから読めます (chmod -R go-rwx)")
    return Check("permissions", "データディレクトリの権限", "ok", "データ・鍵ファイルは所有者のみ (0700/0600)")


def key_rotation(s: LiveState) -> Check:
    limit = s.settings.access.key_rotation_days
    ages = ", ".join(f"{k} {v:.0f}日" for k, v in sorted(s.key_ages.items()))
    tokens = s.key_ages.get("tokens")
    if tokens is not None and tokens > 2 * limit:
        return Check("key-rotation", "鍵の更新", "warn",
                     f"トークン署名鍵が {tokens:.0f}日更新されていません (基準 {limit:g}日)。鍵の経過日数: {ages}")
    return Check("key-rotation", "鍵の更新", "ok", f"鍵の経過日数: {ages or 'なし'} (トークン鍵は {limit:g}日ごとに自動更新)")


def catalog(s: LiveState) -> Check:
    if s.unclassified:
        return Check("catalog", "データカタログ (データの分類)", "warn",
                     f"カタログ未登録のデータ型: {', '.join(s.unclassified[:8])}"
                     + (f" ほか{len(s.unclassified) - 8}件" if len(s.unclassified) > 8 else ""))
    return Check("catalog", "データカタログ (データの分類)", "ok",
                 f"保存されているすべてのデータ型が分類済み (登録 {s.catalog_entries}型)")


def retention(s: LiveState) -> Check:
    rules = s.settings.ngsi.history_retention
    if not rules:
        return Check("retention", "データの保存期間", "warn", "ngsi.history_retention が未設定 (履歴を無期限保存)")
    return Check("retention", "データの保存期間", "ok", f"履歴の保存期間: {', '.join(rules)}")


def consent(s: LiveState) -> Check:
    return Check("consent", "個人データの同意に基づく提供", "ok",
                 "個人データは住民の同意 (目的・期間) がある事業者にのみ提供、利用は住民が閲覧可能")


def originality(s: LiveState) -> Check:
    tsa = s.settings.trust.tsa_url
    if s.verify_ok is False:
        return Check("originality", "原本性 (署名・タイムスタンプ)", "ng", "透明性ログの検証に失敗")
    return Check("originality", "原本性 (署名・タイムスタンプ)", "ok",
                 "書き込みは透明性ログに記録、署名付きツリーヘッドに RFC 3161 タイムスタンプ ("
                 + (f"外部TSA {tsa}" if tsa else "内蔵TSA") + ")、事業者の電子シール")


def devices(s: LiveState) -> Check:
    if not s.devices:
        return Check("devices", "IoT機器の台帳と死活監視", "na", "登録された機器はありません")
    offline = [d for d in s.devices if d.get("status") == "offline"]
    return Check("devices", "IoT機器の台帳と死活監視", "warn" if offline else "ok",
                 f"登録 {len(s.devices)}台 (機器ごとのトークン認証、ファームウェア版を台帳に記録)"
                 + (f"、応答なし {len(offline)}台" if offline else ""))


def mqtt_tls(s: LiveState) -> Check:
    url = s.settings.iot.mqtt_url
    if not url:
        return Check("mqtt-tls", "機器との通信の暗号化 (MQTT)", "na", "MQTT ブローカーを使っていません")
    if url.startswith("mqtts://"):
        return Check("mqtt-tls", "機器との通信の暗号化 (MQTT)", "ok", "MQTT over TLS (mqtts)")
    return Check("mqtt-tls", "機器との通信の暗号化 (MQTT)", "ng", "iot.mqtt_url が暗号化なし (mqtt://)")


def software(s: LiveState) -> Check:
    import platform

    from cityos import __version__

    base = (f"cityos {__version__}、Python {platform.python_version()}、依存パッケージ "
            f"{len(s.packages)}個 (SBOM: cityos compliance --sbom)")
    if s.advisories is None:
        return Check("software", "ソフトウェアの版と脆弱性", "task",
                     base + "。脆弱性情報と照合していません (--advisories に OSV 形式の脆弱性DB)")
    if s.vulnerable:
        found = "; ".join(f"{f.package} {f.version}: {f.advisory}"
                          + (f" (修正版 {f.fixed})" if f.fixed else "") for f in s.vulnerable[:8])
        return Check("software", "ソフトウェアの版と脆弱性", "ng",
                     f"{base}。脆弱性のある版 {len(s.vulnerable)}件: {found}")
    return Check("software", "ソフトウェアの版と脆弱性", "ok",
                 f"{base}。脆弱性情報 {s.advisories}件と照合し該当なし")


def contact_list(s: LiveState) -> Check:
    roles = {str(c.get("role", "")) for c in s.contacts if c.get("role")}
    if not s.contacts:
        return Check("contacts", "インシデント時の連絡体制", "ng",
                     "連絡先が登録されていません (cityos incident contact)")
    return Check("contacts", "インシデント時の連絡体制", "ok",
                 f"連絡先 {len(s.contacts)}件 (役割: {', '.join(sorted(roles)) or '未記入'})")


def incident_register(s: LiveState) -> Check:
    real = [i for i in s.incidents if not i.drill]
    open_ = [i for i in real if not i.closed]
    detail = f"インシデント記録 {len(real)}件 (対応中 {len(open_)}件)"
    if [i for i in open_ if i.severity in ("high", "critical")]:
        return Check("incidents", "インシデントの記録と対応", "warn",
                     detail + "。重大度 高 以上が対応中")
    return Check("incidents", "インシデントの記録と対応", "ok",
                 detail + "。検知→報告→封じ込め→復旧→振り返りを記録 (cityos incident)")


def incident_drill(s: LiveState) -> Check:
    done = [i for i in s.incidents if i.drill and i.closed]
    last = max((float(i.steps[-1]["at"]) for i in done), default=None)
    if last is None or (s.age_days(last) or 0) > 365:
        return Check("incident-drill", "インシデント対応訓練", "ng",
                     "1年以内に振り返りまで終えた訓練がありません (cityos incident open --drill)")
    return Check("incident-drill", "インシデント対応訓練", "ok",
                 f"最後の訓練の振り返り: {_when(s, last)}")


Rule = Callable[[LiveState], Check]

# id -> (checks, what people must attach)
ITEMS: dict[str, tuple[tuple[Rule, ...], str]] = {
    "ガバナンス①-1": ((), "情報セキュリティ基本方針 (決裁済みの文書)"),
    "ガバナンス①-2": ((), "セキュリティ対策基準 (決裁済みの文書)"),
    "ガバナンス①-3": ((catalog, retention), "データ取扱い基準 (データカタログの分類・保存期間と一致させる)"),
    "ガバナンス①-4": ((), "インシデント対応手順 (連絡体制・判断基準・対応フロー)"),
    "ガバナンス①-5": ((restore_drill,), "事業継続計画 (優先機能・役割分担・復旧手順)"),
    "ガバナンス①-6": ((), "委託先・提携先の評価基準"),
    "ガバナンス①-7": ((), "リスクアセスメントの結果"),
    "ガバナンス①-8": ((), "関係法令 (個人情報保護法など) との整合性の確認記録"),
    "ガバナンス②-1": ((), "セキュリティ要件を記載した調達仕様書"),
    "ガバナンス②-2": ((), "データ取扱い基準を反映した契約書・利用規約"),
    "ガバナンス②-3": ((), "責任分界点を明記した契約書・規約"),
    "ガバナンス③-1": ((), "リスクアセスメントとポリシー見直しの記録 (年1回以上)"),
    "ガバナンス③-2": ((), "セキュリティ対策の予算・投資計画"),
    "サービス①-1": ((), "各サービスのリスクアセスメント結果"),
    "サービス②-1": ((api_tokens, cors, rate_limit), "ファイアウォール等の設定 (公開ポートの一覧)"),
    "サービス②-2": ((accounts,), "アカウント棚卸しの実施記録"),
    "サービス②-3": ((password_policy, lockout, second_factor), ""),
    "サービス②-4": ((alerts,), "IDS/IPS/WAF の設置と監視の記録"),
    "サービス③-1": ((), "セキュリティテスト・脆弱性診断の結果"),
    "サービス③-2": ((software,), "定期的な脆弱性診断と脆弱性情報の収集の記録"),
    "サービス③-3": ((), "運用管理端末の対策 (ウイルス対策・OS更新・物理的制限) の記録"),
    "サービス④-1": ((tls, at_rest), ""),
    "サービス④-2": ((backup_age, restore_drill, backup_key), "バックアップの保管場所 (遠隔地) の記録"),
    "サービス④-3": ((verified, audit_retention), ""),
    "都市OS①-1": ((api_tokens, tls, rate_limit, cors, egress), "ファイアウォール等の設定 (公開ポートの一覧)"),
    "都市OS①-2": ((accounts, secrets_age), "アカウント棚卸しの実施記録"),
    "都市OS①-3": ((password_policy, lockout, second_factor), ""),
    "都市OS①-4": ((alerts,), "IDS/IPS の設置と監視の記録"),
    "都市OS②-1": ((), "設計・開発段階のセキュリティ検討の記録"),
    "都市OS②-2": ((software,), "定期的な脆弱性診断と更新・パッチ適用の記録"),
    "都市OS②-3": ((permissions,), "運用管理端末の対策 (ウイルス対策・OS更新・物理的制限) の記録"),
    "都市OS③-1": ((tls, at_rest, permissions, key_rotation), ""),
    "都市OS③-2": ((backup_age, restore_drill, backup_key), "バックアップの保管場所 (遠隔地) の記録"),
    "都市OS③-3": ((verified, audit_retention), ""),
    "都市OS④-1": ((), "クラウド事業者との責任分界点の確認記録 (クラウドを使う場合)"),
    "都市OS④-2": ((), "データの保管場所 (リージョン) の確認記録 (クラウドを使う場合)"),
    "都市OS④-3": ((), "複数リージョン等による可用性の検討記録 (クラウドを使う場合)"),
    "アセット①-1": ((devices,), ""),
    "アセット①-2": ((devices,), "機器の脆弱性情報の収集とファームウェア更新の記録"),
    "アセット②-1": ((mqtt_tls,), ""),
    "アセット②-2": ((devices,), "機器の初期パスワード変更の確認記録"),
    "アセット②-3": ((), "機器の物理的保護・フェイルセーフ・廃棄手順"),
    "サプライチェーン①": ((), "委託先・再委託先を含むサプライチェーン・リスクの把握"),
    "サプライチェーン②": ((), "委託先のセキュリティ管理体制の評価結果 (チェックシート・第三者認証)"),
    "サプライチェーン③": ((software,), "脆弱性情報の提供を定めた契約・調達仕様"),
    "インシデント対応①": ((contact_list, incident_register), "責任範囲を明示したインシデント対応体制図"),
    "インシデント対応②": ((alerts, contact_list), "連絡窓口・緊急連絡先を関係者で共有した記録"),
    "インシデント対応③": ((), "インシデント対応手順書"),
    "インシデント対応④": ((incident_drill,), ""),
    "データ連携①": ((), "データ連携元・連携先のセキュリティ評価結果"),
    "データ連携②": ((api_tokens, consent, secrets_age), ""),
    "データ連携③": ((verified, consent), ""),
    "データ連携④": ((verified, originality), ""),
    "データ連携⑤": ((catalog,), "匿名化・秘匿化の手順 (提供元での処理)"),
    "データ連携⑥": ((tls, api_tokens, rate_limit, cors), ""),
}


def checklist() -> list[dict[str, str]]:
    """The guideline's 55 items in its own wording and order."""
    text = resources.files("cityos.compliance").joinpath(
        "data/security_guideline_v2_checklist.tsv").read_text("utf-8")
    return list(csv.DictReader(text.splitlines(), delimiter="\t"))


def worst(statuses: list[str]) -> str:
    return min(statuses, key=ORDER.index) if statuses else "na"


def assess(state: LiveState) -> list[dict[str, Any]]:
    """Every item with its status, the checks behind it, the task and any evidence."""
    out = []
    for row in checklist():
        rules, task = ITEMS[row["id"]]
        checks = [rule(state) for rule in rules]
        found = [c.status for c in checks if c.status != "na"]
        evidence = state.evidence.get(row["id"])
        fresh = evidence is not None and (state.age_days(float(evidence["at"])) or 0) \
            <= EVIDENCE_DAYS
        status = worst(found) if found else ("task" if task else "na")
        if status == "ok" and task:  # what software shows is fine; people's part is open
            status = "task"
        if status == "task" and fresh:
            status = "attested"
        out.append({"id": row["id"], "category": row["category"],
                    "categoryJa": CATEGORY_JA[row["category"]], "title": row["title_ja"],
                    "description": row["description_ja"], "status": status,
                    "statusJa": STATUS_JA[status], "statusEn": STATUS_EN[status],
                    "checks": [c.to_json() for c in checks], "task": task,
                    "evidence": evidence if fresh else None})
    return out


def summary(items: list[dict[str, Any]]) -> dict[str, int]:
    return {status: sum(1 for i in items if i["status"] == status) for status in ORDER}
