"""Who may see, change or delete a subscription, a csource registration or a csource
subscription (issue #18): its owner, or a staff admin — one rule for all four kinds.

- Every resource records the principal that made it: subscriptions (NGSI-LD and v2 share
  storage) and csource subscriptions in the `cityos:owner` document's `sub`, registrations
  under `_owner` (`owner_of_doc` reads both).
- Only the owner, or a staff admin, reads a resource's details, changes or deletes it; lists
  show one's own (staff admins: all). A resource without an owner (made before owners were
  recorded, or in open NGSI mode) is for staff admins only.
- Anyone else gets the very 404 an id that does not exist gets (existence is not revealed).
- A staff admin acting on someone else's resource leaves the owner in the request's audit
  record (`owner`).
- Without a principal (open NGSI mode: ETSI conformance runs, no access control) everything
  is visible and shown as stored, as before.

Secrets given for a receiver or a source — `receiverInfo` values, v2 `httpCustom.headers`
values, a registration's `contextSourceInfo` values, a password in an endpoint URI — are
write-only: stored and sent, shown with their
keys and the value replaced by `MASK`. A PATCH that sends `MASK` back keeps the stored value.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from starlette.requests import Request

from cityos.access.tokens import Principal
from cityos.audit.trail import ACTING_FOR, PRINCIPAL
from cityos.ngsi.model.registration import OWNER_KEY
from cityos.ngsi.notify.owner import OWNER

MASK = "********"  # what a write-only value reads as
UNOWNED = "(none)"  # the audit record's owner of a resource made before owners were recorded

Doc = dict[str, Any]


def caller(request: Request) -> Principal | None:
    """The calling principal; None in open NGSI mode (no access control)."""
    principal = request.scope.get(PRINCIPAL)
    return principal if isinstance(principal, Principal) else None


def owner_of_doc(doc: Doc) -> str:
    """The principal that made a stored resource ("" when none was recorded)."""
    held = doc.get(OWNER)
    if isinstance(held, dict):
        return str(held.get("sub", ""))
    return str(doc.get(OWNER_KEY, "") or "")


def _admin(principal: Principal) -> bool:
    return principal.kind == "staff" and "admin" in principal.roles


def owner_field(request: Request) -> Doc:
    """The owner member of a new resource that has no Reader to keep (csource subscriptions):
    who made it, and whether a staff admin did (its notifications then tell of every
    registration, see `notified_of`)."""
    principal = caller(request)
    if principal is None:
        return {OWNER: {"sub": ""}}
    return {OWNER: {"sub": principal.sub, "admin": _admin(principal)}}


def notified_of(sub: Doc, reg: Doc) -> bool:
    """Does a csource subscription's notification tell of this registration? Only of its
    owner's own (a staff admin's: of all), as discovery shows them; a subscription made
    without a principal (open NGSI mode) tells of all."""
    held = sub.get(OWNER)
    if not isinstance(held, dict) or not held.get("sub") or held.get("admin") is True:
        return True
    return owner_of_doc(reg) == held["sub"]


def masks_notifications(sub: Doc) -> bool:
    """Are secrets masked in what a csource subscription is notified of? When a principal
    made it (not in open NGSI mode, where everything shows as stored)."""
    held = sub.get(OWNER)
    return isinstance(held, dict) and bool(held.get("sub"))


def may_see(request: Request, doc: Doc) -> bool:
    """May the caller read, change and delete this resource? (Open NGSI mode: yes.)"""
    principal = caller(request)
    if principal is None or _admin(principal):
        return True
    owner = owner_of_doc(doc)
    return bool(owner) and owner == principal.sub


def visible(request: Request, docs: list[Doc]) -> list[Doc]:
    """The resources of a list the caller may see: its own (staff admins, open mode: all)."""
    return [d for d in docs if may_see(request, d)]


def owned(request: Request, doc: Doc | None, not_found: Exception) -> Doc:
    """The stored resource if the caller may act on it; otherwise raise `not_found` — the
    same error a missing id gets. A staff admin acting on another's resource has the owner
    written into the request's audit record."""
    if doc is None or not may_see(request, doc):
        raise not_found
    principal = caller(request)
    owner = owner_of_doc(doc)
    if principal is not None and owner != principal.sub:
        request.scope[ACTING_FOR] = owner or UNOWNED
    return doc


# write-only values --------------------------------------------------------------------------
def masking(request: Request) -> bool:
    """Are secrets masked in this response? Always with a principal; open NGSI mode (no
    access control at all: anyone may PATCH) shows them as stored, as conformance expects."""
    return caller(request) is not None


def mask_uri(uri: Any) -> Any:
    """A URI with the password of its user info (`mqtt://user:pass@host/…`) masked."""
    if not isinstance(uri, str) or "@" not in uri:
        return uri
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    if parts.password is None:
        return uri
    host = parts.netloc.rpartition("@")[2]
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def _mask_pairs(items: Any) -> Any:
    if not isinstance(items, list):
        return items
    return [{**i, "value": MASK} if isinstance(i, dict) and "value" in i else i for i in items]


def mask_endpoint(endpoint: Any) -> Any:
    """An NGSI-LD `notification.endpoint` as shown: receiverInfo values and a password in
    its URI masked (keys, and everything else, as stored)."""
    if not isinstance(endpoint, dict):
        return endpoint
    out = dict(endpoint)
    if "uri" in out:
        out["uri"] = mask_uri(out["uri"])
    if "receiverInfo" in out:
        out["receiverInfo"] = _mask_pairs(out["receiverInfo"])
    return out


def mask_notification(notification: Any) -> Any:
    """An NGSI-LD `notification` member as shown (see `mask_endpoint`)."""
    if not isinstance(notification, dict) or "endpoint" not in notification:
        return notification
    return {**notification, "endpoint": mask_endpoint(notification["endpoint"])}


def mask_v2_notification(notification: Any) -> Any:
    """A v2 `notification` as shown: `http`/`httpCustom` URL passwords and header values
    masked."""
    if not isinstance(notification, dict):
        return notification
    out = dict(notification)
    for name in ("http", "httpCustom"):
        http = out.get(name)
        if isinstance(http, dict):
            http = {**http, "url": mask_uri(http.get("url"))} if "url" in http else dict(http)
            if isinstance(http.get("headers"), dict):
                http["headers"] = {k: MASK for k in http["headers"]}
            out[name] = http
    return out


def mask_v2_member(v2: Any) -> Any:
    """The `v2` member a v2 subscription shows over NGSI-LD, its v2 notification masked."""
    if not isinstance(v2, dict) or not isinstance(v2.get("body"), dict):
        return v2
    body = v2["body"]
    if "notification" not in body:
        return v2
    return {**v2, "body": {**body, "notification": mask_v2_notification(body["notification"])}}


def mask_registration(reg: Doc) -> Doc:
    """A csource registration as shown: its `contextSourceInfo` values (sent to the source as
    headers) and a password in its endpoint URI masked."""
    out = dict(reg)
    if "endpoint" in out:
        out["endpoint"] = mask_uri(out["endpoint"])
    if "contextSourceInfo" in out:
        out["contextSourceInfo"] = _mask_pairs(out["contextSourceInfo"])
    return out


def unmask_registration(patch: Doc, old: Doc) -> Doc:
    """A registration PATCH with masked values sent back restored from the stored `old`."""
    out = dict(patch)
    if "endpoint" in out:
        out["endpoint"] = _unmask_uri(out["endpoint"], old.get("endpoint"))
    if "contextSourceInfo" in out:
        out["contextSourceInfo"] = _unmask_pairs(out["contextSourceInfo"],
                                                 old.get("contextSourceInfo"))
    return out


def _unmask_pairs(new: Any, old: Any) -> Any:
    if not isinstance(new, list) or not isinstance(old, list):
        return new
    kept = {i.get("key"): i.get("value") for i in old if isinstance(i, dict)}
    return [{**i, "value": kept[i.get("key")]}
            if isinstance(i, dict) and i.get("value") == MASK and i.get("key") in kept else i
            for i in new]


def _unmask_uri(new: Any, old: Any) -> Any:
    """A URI sent back as read (its password masked) means the stored one."""
    if isinstance(new, str) and MASK in new and mask_uri(old) == new:
        return old
    return new


def unmask_notification(new: Any, old: Any) -> Any:
    """A PATCHed NGSI-LD `notification` with masked values sent back restored from `old`."""
    if not isinstance(new, dict) or not isinstance(old, dict):
        return new
    endpoint, before = new.get("endpoint"), old.get("endpoint")
    if not isinstance(endpoint, dict) or not isinstance(before, dict):
        return new
    endpoint = dict(endpoint)
    if "uri" in endpoint:
        endpoint["uri"] = _unmask_uri(endpoint["uri"], before.get("uri"))
    if "receiverInfo" in endpoint:
        endpoint["receiverInfo"] = _unmask_pairs(endpoint["receiverInfo"],
                                                 before.get("receiverInfo"))
    return {**new, "endpoint": endpoint}


def unmask_v2_notification(new: Any, old: Any) -> Any:
    """A PATCHed v2 `notification` with masked values sent back restored from `old`."""
    if not isinstance(new, dict) or not isinstance(old, dict):
        return new
    out = dict(new)
    for name in ("http", "httpCustom"):
        http, before = out.get(name), old.get(name)
        if not isinstance(http, dict) or not isinstance(before, dict):
            continue
        http = dict(http)
        if "url" in http:
            http["url"] = _unmask_uri(http["url"], before.get("url"))
        headers, stored = http.get("headers"), before.get("headers")
        if isinstance(headers, dict) and isinstance(stored, dict):
            http["headers"] = {k: stored[k] if v == MASK and k in stored else v
                               for k, v in headers.items()}
        out[name] = http
    return out
