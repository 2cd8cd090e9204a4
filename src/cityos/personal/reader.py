"""Who reads personal rows: the storage `Reader` for the calling principal (issue 6).

Organisations read their own rows and consented ones (under the purpose they declare with
`Cityos-Purpose`), residents their own — or, with `Cityos-On-Behalf-Of: res_…`, the person
they represent within the mandate's categories; everyone else (staff, open NGSI) non-personal
rows only.
"""

from __future__ import annotations

from starlette.requests import Request

from cityos.audit.trail import PRINCIPAL
from cityos.personal.receipts import purpose_term
from cityos.storage.base import Reader
from cityos.tenant import tenant_of

PURPOSE_HEADER = "cityos-purpose"
ON_BEHALF_HEADER = "cityos-on-behalf-of"
_NOBODY = Reader()


def reader_for(request: Request) -> Reader:
    """The Reader of the principal the gate left on `request` (deny by default)."""
    principal = request.scope.get(PRINCIPAL)
    if principal is None:
        return _NOBODY
    kind, _, name = principal.sub.partition(":")
    if kind == "org":
        purpose = request.headers.get(PURPOSE_HEADER)
        return Reader(org=principal.sub, purpose=purpose_term(purpose) if purpose else None)
    if kind == "resident":
        subject = request.headers.get(ON_BEHALF_HEADER)
        if not subject or subject == name:
            return Reader(residents=(name,))
        personal = getattr(request.app.state, "personal", None)
        tenant = tenant_of(request.scope)  # the Caller's (v2: Fiware-Service, lower case)
        mandate = None if personal is None else \
            personal.family.allowed(tenant, name, subject, "view")
        if mandate is None:
            return _NOBODY  # no mandate: nothing personal (not even one's own, to be plain)
        categories = mandate["categories"]
        return Reader(residents=(subject,),
                      categories=None if categories is None else tuple(categories))
    return _NOBODY


class ConsentReaders:
    """`cityos.ngsi.ports.Readers` as personal/ implements it (installed at app start)."""

    def reader_for(self, request: Request) -> Reader:
        return reader_for(request)
