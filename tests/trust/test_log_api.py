"""/trust/v1/log over the whole app: audit records become leaves, heads verify, proofs verify."""

from __future__ import annotations

import base64

import orjson

from access.secured import Platform
from cityos.audit.chain import canonical, link
from cityos.audit.trail import trail_of
from cityos.trust.merkle import leaf_hash, verify_consistency, verify_inclusion
from cityos.trust.service import Trust
from cityos.trust.treehead import SignedTreeHead, parse_public_key, verify_head


def _checkpoint(platform: Platform) -> SignedTreeHead | None:
    app = platform.client.app
    assert platform.client.portal is not None
    platform.client.portal.call(trail_of(app).flush)
    trust: Trust = app.state.trust  # type: ignore[attr-defined]
    return platform.client.portal.call(trust.checkpoint)


def test_audit_records_are_leaves_with_proofs(platform: Platform) -> None:
    admin = platform.auth("admin")
    first = platform.client.get("/trust/v1/log/tree-head", headers=admin)
    assert first.status_code == 200, first.text
    head1 = first.json()
    _name, key = parse_public_key(head1["publicKey"])
    verify_head(SignedTreeHead.from_json(head1), key)
    assert head1["checkpoint"].startswith(head1["origin"] + "\n")
    for _ in range(5):
        platform.client.get("/version")
    sth = _checkpoint(platform)
    assert sth is not None and sth.size > head1["treeSize"]
    verify_head(sth, key)

    # the newest audit record, found through its leaf, is in the signed tree
    index = sth.size - 1
    leaf = platform.client.get(f"/trust/v1/log/leaves/{index}", headers=admin).json()
    assert leaf["leaf"]["kind"] == "audit"
    body = orjson.dumps(leaf["leaf"], option=orjson.OPT_SORT_KEYS)
    assert leaf_hash(body).hex() == leaf["leafHash"]
    proof = platform.client.get("/trust/v1/log/proof/inclusion", headers=admin,
                                params={"leafIndex": index, "treeSize": sth.size}).json()
    verify_inclusion(index, sth.size, leaf_hash(body),
                     [bytes.fromhex(h) for h in proof["inclusionPath"]], sth.root)
    # … and that leaf names the audit record by its chain hash
    store = platform.client.app.state.broker.store  # type: ignore[attr-defined]
    assert platform.client.portal is not None
    [entry] = platform.client.portal.call(store.read_log, "audit", leaf["leaf"]["seq"] - 1, 1)
    assert link(entry.prev, canonical(orjson.loads(entry.body))) == leaf["leaf"]["hash"]

    # the new head extends the first one
    cons = platform.client.get("/trust/v1/log/proof/consistency", headers=admin,
                               params={"first": head1["treeSize"], "second": sth.size}).json()
    verify_consistency(head1["treeSize"], sth.size, bytes.fromhex(head1["rootHash"]), sth.root,
                       [bytes.fromhex(h) for h in cons["consistencyPath"]])
    heads = platform.client.get("/trust/v1/log/checkpoints", headers=admin).json()
    sizes = [h["treeSize"] for h in heads]  # the background checkpoint may add heads too
    assert sizes == sorted(sizes) and sth.size in sizes
    assert base64.b64decode(heads[sizes.index(sth.size)]["signature"]) == sth.signature


def test_bad_requests_get_clear_errors(platform: Platform) -> None:
    viewer = platform.auth("viewer")
    assert platform.client.get("/trust/v1/log/tree-head", headers=viewer).status_code == 200
    for params in ({}, {"leafIndex": "x"}, {"leafIndex": "-1"}, {"leafIndex": 10**9},
                   {"leafIndex": 0, "treeSize": 10**9}):
        r = platform.client.get("/trust/v1/log/proof/inclusion", headers=viewer, params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["title"] == "BadRequestData"
    r = platform.client.get("/trust/v1/log/proof/consistency", headers=viewer,
                            params={"first": 10**9})
    assert r.status_code == 400
    assert platform.client.get("/trust/v1/log/leaves/0", headers=viewer).status_code == 403
    admin = platform.auth("admin")
    assert platform.client.get("/trust/v1/log/leaves/99999999", headers=admin).status_code == 404
    assert platform.client.get("/trust/v1/log/leaves/x", headers=admin).status_code == 404
