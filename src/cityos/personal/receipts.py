"""Consent records in the ISO/IEC TS 27560:2023 structure with DPV terms, signed by the platform.

W3C DPV 2.0 (dpv:Purpose, dpv:ConsentStatus, dpv-pd personal data categories). Each change of
a consent is a new record linked to the one before; the record is signed with the platform's
log key (Ed25519) and its digest becomes a leaf of the transparency log (trust/).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SCHEMA = "ISO/IEC TS 27560:2023"
CONTEXT = {"dpv": "https://w3id.org/dpv#", "pd": "https://w3id.org/dpv/pd#"}
STATUS = {  # consent state -> DPV consent status
    "REQUESTED": "dpv:ConsentRequested", "APPROVED": "dpv:ConsentGiven",
    "DECLINED": "dpv:ConsentRefused", "WITHDRAWN": "dpv:ConsentWithdrawn",
    "EXPIRED": "dpv:ConsentExpired",
}
PD_CATEGORY = {  # cityos data category -> DPV personal data category
    "location": "pd:Location", "health": "pd:HealthRecord", "purchase": "pd:PurchasesAndSpendingHabit",
    "mobility": "pd:TravelHistory", "childcare": "pd:FamilyStructure",
    "energy": "pd:HouseholdData", "usage": "pd:ServiceConsumptionBehavior",
    "profile": "pd:Contact", "administrative": "pd:PublicLife",
}


def iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def purpose_term(purpose: str) -> str:
    """A purpose as a DPV term: `ServiceProvision` → `dpv:ServiceProvision`; IRIs kept."""
    return purpose if ":" in purpose else f"dpv:{purpose}"


UNSIGNED = ("proof", "leafIndex")  # added beside a record, not part of what is signed


def canonical(record: dict[str, Any]) -> bytes:
    return orjson.dumps({k: v for k, v in record.items() if k not in UNSIGNED},
                        option=orjson.OPT_SORT_KEYS)


def digest(record: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def build_record(consent: dict[str, Any], *, at: float, by: str, role: str,
                 previous: str | None) -> dict[str, Any]:
    """The TS 27560 record of `consent` as it now stands, made by `by` acting as `role`
    (data subject, representative, recipient, controller, system)."""
    return {
        "@context": CONTEXT,
        "schema_version": SCHEMA,
        "record_id": "rec_" + secrets.token_hex(10),
        "consent_id": consent["id"],
        "version": consent["version"],
        "previous_record": previous,  # digest of the record before (None for the first)
        "pii_principal_id": consent["subject"],
        "tenant": consent["tenant"],
        "notice": {"language": "ja", "text": consent.get("notice", "")},
        "processing": [{
            "purposes": [{"dpv:Purpose": purpose_term(consent["purpose"]),
                          "description": consent.get("notice", "")}],
            "pii_categories": [{"dpv:PersonalDataCategory":
                                PD_CATEGORY.get(consent["category"], consent["category"]),
                                "cityos:category": consent["category"]}],
            "recipients": [{"dpv:Recipient": consent["recipient"],
                            "name": consent.get("recipientName", ""),
                            "service": consent.get("service", "")}],
            "legal_basis": "dpv:Consent",
        }],
        "consent_status": STATUS[consent["state"]],
        "state": consent["state"],
        "validity": {"until": iso(consent["until"]) if consent.get("until") else None},
        "event": {"event_time": iso(at), "event_type": STATUS[consent["state"]],
                  "event_by": by, "event_by_role": role},
        "controller": "cityos",
    }


def sign(record: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """`record` with its proof: an Ed25519 signature over its canonical JSON."""
    signature = key.sign(canonical(record))
    return {**record, "proof": {"type": "Ed25519Signature2020",
                                "signature": base64.b64encode(signature).decode("ascii")}}


def verify(record: dict[str, Any], public: Ed25519PublicKey) -> bool:
    """True when the record's proof is the platform's signature over it."""
    try:
        public.verify(base64.b64decode(record["proof"]["signature"]), canonical(record))
    except (InvalidSignature, KeyError, TypeError, ValueError):
        return False
    return True
