"""The page session keeps its access token alive from the account as it is now: a new token
when the old one expired, the account's current roles, nothing for a disabled account."""

from __future__ import annotations

import time

from access.secured import Platform
from cityos.access.service import access_of, resident_principal, staff_principal
from cityos.access.tokens import issue_token
from cityos.web.session import STAFF_SESSION_SECONDS, Session, fresh_token


def _run(platform: Platform, work):  # type: ignore[no-untyped-def]
    assert platform.client.portal is not None
    return platform.client.portal.call(work)


def test_an_expired_token_is_renewed_and_a_disabled_account_signs_out(platform: Platform) -> None:
    app = platform.client.app

    async def renew() -> tuple[Session, str]:
        access = await access_of(app)
        resident = await access.residents.by_login("hanako@example.jp")
        principal = resident_principal(resident)
        old = await issue_token(access.ring, principal, 60, now=time.time() - 3600)
        session = Session()
        session.sign_in(principal, old)
        session.changed = False
        await fresh_token(app, session)
        return session, old

    session, old = _run(platform, renew)
    assert session.token and session.token != old and session.changed
    assert session.until - time.time() > 29 * 86_400  # a resident's month

    async def disable_and_renew() -> Session:
        access = await access_of(app)
        resident = await access.residents.by_login("hanako@example.jp")
        await access.residents.set_disabled(resident["id"], True)
        access._accounts.clear()  # the 2-second account cache
        expired = await issue_token(access.ring, resident_principal(resident), 60,
                                    now=time.time() - 3600)
        session.token = expired
        await fresh_token(app, session)
        return session

    assert not _run(platform, disable_and_renew).signed_in


def test_a_staff_session_takes_the_roles_the_account_has_now(platform: Platform) -> None:
    app = platform.client.app

    async def demoted() -> Session:
        access = await access_of(app)
        member = await access.book.get_staff("viewer")
        claimed = staff_principal({**member, "roles": ["admin"]})  # what the cookie says
        session = Session()
        session.sign_in(claimed, await issue_token(access.ring, claimed, 60,
                                                   now=time.time() - 3600))
        await fresh_token(app, session)
        return session

    session = _run(platform, demoted)
    assert session.roles == ("viewer",)
    assert session.until - time.time() <= STAFF_SESSION_SECONDS
    verified = _run(platform, lambda: _verify(app, session.token))
    assert verified.roles == ("viewer",)


async def _verify(app, token):  # type: ignore[no-untyped-def]
    return await (await access_of(app)).verifier.verify(token)
