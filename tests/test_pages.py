"""snpmeasure.pages: the argument rules both LaunchDigest backends share."""

from __future__ import annotations

import pytest

from snpmeasure import InvalidInputError, LaunchDigest
from snpmeasure.firmware import Status


def test_page_type_checks_huge_ints_itself() -> None:
    """Enum lookup would fail to repr a 100000-bit int in its own ValueError message."""
    with pytest.raises(InvalidInputError) as exc:
        LaunchDigest().update(1 << 100000, 0, bytes(4096))
    assert exc.value.field == "page_type" and len(str(exc.value)) < 200
    with pytest.raises(InvalidInputError) as exc:
        Status(1 << 10000)
    assert exc.value.field == "status" and len(str(exc.value)) < 200


@pytest.mark.parametrize("backend", ["native", "python"])
def test_threads_sharing_one_digest_lose_no_update(backend: str) -> None:
    """As hashlib's objects: two threads updating one LaunchDigest give the digest of both updates
    in some order (the C core reads the state, hashes with the GIL released and writes it back, so
    without the object's lock one update was lost)."""
    import os
    import threading

    from snpmeasure import _core, _reference

    cls = _core.NativeLaunchDigest if backend == "native" else _reference.LaunchDigest
    data = os.urandom(4096 * (256 if backend == "native" else 16))
    orders = []
    for first, second in ((0, 1 << 30), (1 << 30, 0)):
        one = cls()
        one.update(1, first, data)
        one.update(1, second, data)
        orders.append(one.digest())
    for _ in range(10):  # unlocked, about one round in five lost an update here
        shared = cls()
        threads = [threading.Thread(target=shared.update, args=(1, gpa, data)) for gpa in (0, 1 << 30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert shared.digest() in orders
    copied = shared.copy()
    copied.update(1, 0, data[:4096])
    assert shared.digest() in orders and copied.digest() not in orders


def test_a_closed_mmap_or_released_view_is_bad_input() -> None:
    import mmap

    closed = mmap.mmap(-1, 4096)
    closed.close()
    released = memoryview(bytes(4096))
    released.release()
    for call in (
        lambda: LaunchDigest().update(1, 0, closed),
        lambda: LaunchDigest().update(1, 0, released),
        lambda: LaunchDigest().update_fill(1, 0, closed, 1),
    ):
        with pytest.raises(InvalidInputError, match="cannot be read"):
            call()
