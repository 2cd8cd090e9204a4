"""A token signed with a key another process made a moment ago (`cityos token` beside a
running server) is accepted at once, not after the ring's next periodic reload."""

from __future__ import annotations

from .secured import Platform


def test_a_new_key_from_another_process_is_found_at_once(platform: Platform) -> None:
    async def new_key_token(access: object) -> str:
        from cityos.access.service import Access, staff_principal

        assert isinstance(access, Access)
        # a second ring on the same store, as `cityos token` would have: it rotates now
        other = await Access.create(access.store, access.settings, access.ring.keys)
        await other.ring.rotate()
        admin = await other.book.get_staff("admin")
        assert admin is not None
        return await other.issue(staff_principal(admin))

    token = platform.access(new_key_token)
    r = platform.client.get("/ngsi-ld/v1/types", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
