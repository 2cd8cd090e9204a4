"""What "my data" reads and changes through Personal-Link (issue 6), in one place.

Each function answers None when Personal-Link is not running in this app (an app assembled
without it), and the page then says 準備中 (coming soon) rather than show invented data.
"""

from __future__ import annotations

from typing import Any

from cityos.access.service import access_of
from cityos.personal.consents import ConsentError
from cityos.personal.export import erase_resident, export_resident


class Refused(Exception):
    """Personal-Link refused a change (its 4xx errors), with its bilingual reason."""


def personal_of(app: Any) -> Any | None:
    """The running Personal-Link service (None before it is installed on the app)."""
    return getattr(app.state, "personal", None)


def _part(app: Any, name: str) -> Any | None:
    personal = personal_of(app)
    return None if personal is None else getattr(personal, name, None)


async def my_consents(app: Any, tenant: str, subject: str) -> list[dict[str, Any]] | None:
    """The subject's consents that can be switched (requested, on, off), newest first."""
    book = _part(app, "consents")
    if book is None:
        return None
    shown = ("REQUESTED", "APPROVED", "DECLINED", "WITHDRAWN")
    return [c for c in await book.list(tenant, subject=subject) if c["state"] in shown]


async def my_consent(app: Any, tenant: str, subject: str,
                     consent_id: str) -> dict[str, Any] | None:
    """One of the subject's consents, in whatever state (None: not the subject's)."""
    book = _part(app, "consents")
    consent = None if book is None else await book.get(tenant, consent_id)
    return None if consent is None or consent["subject"] != subject else dict(consent)


async def switch_consent(app: Any, tenant: str, subject: str, consent_id: str, on: bool, *,
                         by: str, role: str) -> dict[str, Any] | None:
    """Turn one consent on (APPROVED) or off (WITHDRAWN, or DECLINED when only requested);
    None when the consent is not the subject's. Errors of Personal-Link propagate."""
    book = _part(app, "consents")
    consent = await my_consent(app, tenant, subject, consent_id)
    if book is None or consent is None:
        return None
    off = "DECLINED" if consent["state"] == "REQUESTED" else "WITHDRAWN"
    state = "APPROVED" if on else off
    if consent["state"] == state:
        return dict(consent)
    try:
        return dict(await book.decide(tenant, consent_id, state, by=by, role=role))
    except ConsentError as exc:
        raise Refused(str(exc)) from exc


async def my_access_log(app: Any, tenant: str, subject: str,
                        limit: int = 50) -> list[dict[str, Any]] | None:
    tracker = _part(app, "tracker")
    if tracker is None or not hasattr(tracker, "entries"):
        return None
    return list(await tracker.entries(tenant, subject, limit=limit))


async def my_links(app: Any, tenant: str, subject: str) -> dict[str, Any] | None:
    links = _part(app, "links")
    if links is None:
        return None
    return dict(await links.of(tenant, subject))


def represented(app: Any, tenant: str, me: str) -> list[dict[str, Any]] | None:
    """Mandates `me` holds as a family representative (None: not available yet)."""
    family = _part(app, "family")
    if family is None:
        return None
    return list(family.represented(tenant, me))


def may_act_for(app: Any, tenant: str, me: str, subject: str, action: str) -> bool:
    family = _part(app, "family")
    return family is not None and family.allowed(tenant, me, subject, action) is not None


def mandate(app: Any, tenant: str, me: str, subject: str,
            action: str) -> dict[str, Any] | None:
    """The live mandate letting `me` do `action` for `subject` (its `categories`), or None."""
    family = _part(app, "family")
    return None if family is None else family.allowed(tenant, me, subject, action)


async def export_data(app: Any, tenant: str, subject: str) -> dict[str, Any] | None:
    """Everything about the subject as one JSON document (Personal-Link's export)."""
    personal = personal_of(app)
    if personal is None:
        return None
    return dict(await export_resident(personal, (await access_of(app)).residents, tenant,
                                      subject))


async def erase_data(app: Any, tenant: str, subject: str, *, by: str) -> dict[str, Any] | None:
    """Erase the subject (crypto-shredding; the account is closed); None when not available."""
    personal = personal_of(app)
    if personal is None:
        return None
    return dict(await erase_resident(personal, (await access_of(app)).residents, tenant,
                                     subject, by=by, role="data subject"))
