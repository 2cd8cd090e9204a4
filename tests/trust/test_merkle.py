"""The Merkle tree against the Certificate Transparency reference test vectors.

Vectors copied from google/trillian `merkle/log_verifier_test.go` (Apache-2.0), the RFC 6962
reference data of the CT project: eight leaves, the roots of 1…8 of them, and inclusion and
consistency proofs between them.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityos.trust.merkle import (
    EMPTY_ROOT,
    Frontier,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_of,
    subtree_of,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # empty tree
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")]


def _hx(*hashes: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in hashes]


INCLUSION = [  # (leaf index, tree size, proof)
    (0, 1, []),
    (0, 8, _hx("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
               "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
               "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (5, 8, _hx("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
               "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
               "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (2, 3, _hx("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (1, 5, _hx("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
               "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
               "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
]
CONSISTENCY = [  # (first size, second size, proof)
    (1, 1, []),
    (1, 8, _hx("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
               "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
               "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (6, 8, _hx("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
               "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
               "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (2, 5, _hx("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
               "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
]
HASHES = [leaf_hash(leaf) for leaf in LEAVES]


@pytest.mark.parametrize("size", range(9))
def test_roots_of_0_to_8_leaves(size: int) -> None:
    assert root_of(HASHES[:size]) == ROOTS[size]
    frontier = Frontier()
    for h in HASHES[:size]:
        frontier.append(h)
    assert frontier.size == size and frontier.root() == ROOTS[size]
    assert ROOTS[0] == EMPTY_ROOT


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_vectors(index: int, size: int, proof: list[bytes]) -> None:
    assert inclusion_proof(index, size, subtree_of(HASHES)) == proof
    verify_inclusion(index, size, HASHES[index], proof, ROOTS[size])


@pytest.mark.parametrize(("index", "size", "proof"), [c for c in INCLUSION if c[2]])
def test_inclusion_rejects_what_trillian_rejects(index: int, size: int,
                                                 proof: list[bytes]) -> None:
    leaf, root = HASHES[index], ROOTS[size]
    bad = [(index ^ 2, size, leaf, proof, root), (index, size * 2, leaf, proof, root),
           (index, size // 2, leaf, proof, root), (index, size, leaf_hash(b"WrongLeaf"), proof, root),
           (index, size, leaf, proof, EMPTY_ROOT), (index, size, leaf, [*proof, b""], root),
           (index, size, leaf, [*proof, root], root), (index, size, leaf, proof[:-1], root),
           (index, size, leaf, [root, *proof], root)]
    if index > 0:
        bad.append((index - 1, size, leaf, proof, root))
    bad.append((index + 1, size, leaf, proof, root))
    for i in range(len(proof)):
        bad.append((index, size, leaf, [*proof[:i], EMPTY_ROOT, *proof[i + 1:]], root))
    for args in bad:
        with pytest.raises(ProofError):
            verify_inclusion(*args)


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_consistency_vectors(first: int, second: int, proof: list[bytes]) -> None:
    assert consistency_proof(first, second, subtree_of(HASHES)) == proof
    verify_consistency(first, second, ROOTS[first], ROOTS[second], proof)


@pytest.mark.parametrize(("first", "second", "proof"), [c for c in CONSISTENCY if c[2]])
def test_consistency_rejects_what_trillian_rejects(first: int, second: int,
                                                   proof: list[bytes]) -> None:
    r1, r2 = ROOTS[first], ROOTS[second]
    bad = [(first - 1, second, r1, r2, proof), (first + 1, second, r1, r2, proof),
           (first ^ 2, second, r1, r2, proof), (first, second * 2, r1, r2, proof),
           (first, second // 2, r1, r2, proof), (first, second, b"WrongRoot", r2, proof),
           (first, second, r1, b"WrongRoot", proof), (first, second, r2, r1, proof),
           (first, second, r1, r2, []), (first, second, r1, r2, [*proof, b""]),
           (first, second, r1, r2, [*proof, r1]), (first, second, r1, r2, proof[:-1]),
           (first, second, r1, r2, [b"", *proof]), (first, second, r1, r2, [proof[0], *proof])]
    for i in range(len(proof)):
        bad.append((first, second, r1, r2, [*proof[:i], EMPTY_ROOT, *proof[i + 1:]]))
    for args in bad:
        with pytest.raises(ProofError):
            verify_consistency(*args)


def test_edge_cases_of_consistency() -> None:
    verify_consistency(0, 0, b"x", b"x", [])
    verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [])
    with pytest.raises(ProofError, match="fork"):
        verify_consistency(3, 3, ROOTS[3], ROOTS[4], [])
    with pytest.raises(ProofError):
        verify_consistency(2, 1, ROOTS[2], ROOTS[1], [])
    with pytest.raises(ProofError):
        verify_consistency(1, 1, ROOTS[1], ROOTS[1], [EMPTY_ROOT])


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=70), st.data())
def test_every_proof_of_random_trees_verifies(leaves: list[bytes], data: st.DataObject) -> None:
    hashes = [leaf_hash(leaf) for leaf in leaves]
    mth = subtree_of(hashes)
    size = len(hashes)
    index = data.draw(st.integers(0, size - 1))
    verify_inclusion(index, size, hashes[index], inclusion_proof(index, size, mth),
                     root_of(hashes))
    first = data.draw(st.integers(0, size))
    verify_consistency(first, size, root_of(hashes[:first]), root_of(hashes),
                       consistency_proof(first, size, mth))
    if 0 < first < size:  # a different older tree (a fork) is caught
        forked = [*hashes[:first - 1], leaf_hash(b"forged"), *hashes[first:]]
        with pytest.raises(ProofError):
            verify_consistency(first, size, root_of(forked[:first]), root_of(hashes),
                               consistency_proof(first, size, mth))
