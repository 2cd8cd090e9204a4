"""The words of the watch-over pages (Japanese, English)."""

from __future__ import annotations

from cityos.services.watchover.model import SITES
from cityos.web.i18n import add_messages

MESSAGES = {
    "wo.title": ("見守り", "Watch-over"),
    "wo.lead": ("お子さんやご家族が持つ見守りタグが、学校・駅・避難所などの受信機や見守りボランティア"
                "に検知されると、最後に確認された場所とお知らせがここに届きます。",
                "When the watch-over tag your child or family member carries is seen by a "
                "receiver at a school, a station, a shelter or by a volunteer, the last-seen "
                "place and notices arrive here."),
    "wo.unavailable": ("見守りサービスはいま止まっています。しばらくしてからお試しください。",
                       "The watch-over service is not running now. Please try again later."),
    "wo.staff_only": ("このページは住民の方のためのページです。職員の方はコンソールをお使いください。",
                      "This page is for residents. Staff, please use the console."),
    "wo.done.registered": ("タグを登録しました。見守られる方（お子さんは保護者の方）が「わたしのデータ」"
                           "で同意すると見守りが始まります。",
                           "The tag is registered. Watch-over starts when the person (for a "
                           "child, the parent) consents in “My data”."),
    "wo.done.searching": ("捜索依頼を出しました。名前を挙げた職員だけが、期限まで最後の場所を見られます。",
                          "Your search request is filed. Only the staff you named can see the "
                          "last-seen place, until it expires."),
    "wo.done.unavailable": ("いまは受け付けられません。", "This cannot be done now."),
    "wo.tags": ("見守っている方", "People you watch over"),
    "wo.no_tags": ("まだタグが登録されていません。下の「タグを登録する」から登録できます。",
                   "No tag is registered yet. Register one below."),
    "wo.consent.waiting": ("同意を待っています。見守られる方（お子さんは保護者の方）が「わたしのデータ」で"
                           "同意するまで、検知は記録されません。",
                           "Waiting for consent: nothing is recorded until the person (for a "
                           "child, the parent) consents in “My data”."),
    "wo.last_seen": ("最後に確認された場所", "Last seen"),
    "wo.last_seen.at": ("{place}（{time}）", "{place} ({time})"),
    "wo.never_seen": ("まだ検知されていません。", "Not seen yet."),
    "wo.today": ("きょうの移動", "Today's moves"),
    "wo.today.none": ("きょうはまだ移動の記録がありません。", "No moves recorded today yet."),
    "wo.map": ("きょうの移動の地図（番号の順に移動）", "Map of today's moves (in numbered order)"),
    "wo.map.scale": ("縮尺", "Scale"),
    "wo.notices": ("お知らせ", "Notices"),
    "wo.no_notices": ("お知らせはまだありません。", "No notices yet."),
    "wo.register": ("タグを登録する", "Register a tag"),
    "wo.form.tag": ("タグID（タグに印字されています）", "Tag id (printed on the tag)"),
    "wo.form.label": ("呼び名（例: たろう）", "Name to show (e.g. Taro)"),
    "wo.form.person": ("見守る方", "Who carries the tag"),
    "wo.form.person.me": ("わたし", "Me"),
    "wo.form.person.other": ("住民ID（ご家族の代理人でない場合）",
                             "Resident id (when you do not represent them)"),
    "wo.form.gate": ("学校の校門（登校・下校のお知らせ）", "School gate (arrival and leaving notices)"),
    "wo.form.gate.none": ("なし", "None"),
    "wo.form.anchor": ("夜の安心エリアの中心（近くの受信機）",
                       "Centre of the night-time safe area (a nearby receiver)"),
    "wo.form.radius": ("安心エリアの半径", "Radius of the safe area"),
    "wo.form.radius.m": ("{m} メートル", "{m} metres"),
    "wo.form.submit": ("登録する", "Register"),
    "wo.search": ("町に捜索を依頼する", "Ask the town for help"),
    "wo.search.lead": ("見つからないときは役場に電話し、担当職員のIDを聞いてここに入れてください。"
                       "その職員だけが、決めた時間まで最後に確認された場所を見られます。",
                       "If you cannot find them, call the town office, ask for the staff "
                       "member's id and enter it here. Only that staff member can see the "
                       "last-seen place, for the hours you choose."),
    "wo.search.staff": ("担当職員のID（複数はカンマ区切り）", "Staff ids (comma-separated)"),
    "wo.search.hours": ("見られる時間（時間）", "For how many hours"),
    "wo.search.submit": ("捜索を依頼する", "File the request"),
    "wo.search.active": ("捜索依頼: {staff} が {until} まで見られます。",
                         "Search request: {staff} may see the place until {until}."),
    "wo.search.opened": ("{staff} が {time} に確認しました。", "{staff} looked at {time}."),
    "wo.kind.arrived": ("登校", "Arrived at school"),
    "wo.kind.left": ("下校", "Left school"),
    "wo.kind.not-seen": ("見つかりません", "Not seen"),
    "wo.kind.outside-at-night": ("夜間に安心エリア外", "Outside at night"),
    "wo.problem": ("できませんでした", "This could not be done"),
    "wo.back": ("見守りのページに戻る", "Back to watch-over"),
    "wo.console.title": ("見守り: 受信機", "Watch-over: receivers"),
    "wo.console.lead": ("受信機の稼働状況と検知範囲です。個人の位置は表示しません（保護者の捜索依頼で"
                        "名前を挙げられた職員だけが、期限まで見られます）。",
                        "Receivers' liveness and coverage. No individual is shown (only staff "
                        "a guardian named in a search request may see a place, until it "
                        "expires)."),
    "wo.console.live": ("稼働中 {live} / {all} 台", "{live} of {all} receivers live"),
    "wo.console.map": ("受信機の地図（円は検知範囲のめやす）", "Receivers (circles: approximate coverage)"),
    "wo.console.name": ("受信機", "Receiver"),
    "wo.console.kind": ("種類", "Kind"),
    "wo.console.site": ("場所の種類", "Site"),
    "wo.console.last": ("最終報告", "Last report"),
    "wo.console.state": ("状態", "State"),
    "wo.console.state.live": ("稼働中", "Live"),
    "wo.console.state.quiet": ("停止の疑い", "Quiet"),
    "wo.console.never": ("報告なし", "Never reported"),
    "wo.kind.fixed": ("固定", "Fixed"),
    "wo.kind.mobile": ("移動", "Mobile"),
    "wo.kind.volunteer": ("ボランティア", "Volunteer"),
    "wo.console.searches": ("捜索依頼", "Search requests"),
    "wo.console.no_searches": ("捜索依頼はありません。", "There are no search requests."),
    "wo.console.search.for": ("{label} さん（期限 {until}、担当 {staff}）",
                              "{label} (until {until}, staff {staff})"),
    "wo.console.search.open": ("最後の場所を見る（記録されます）", "See the last place (recorded)"),
    "wo.console.search.closed": ("あなたは見られません（担当外か期限切れ）",
                                 "Not open to you (not named, or expired)"),
    "wo.console.place": ("最後に確認された場所", "Last seen place"),
    "wo.console.denied": ("見られません", "Not available"),
}
MESSAGES.update({f"wo.site.{k}": v for k, v in SITES.items()})
add_messages(MESSAGES)
