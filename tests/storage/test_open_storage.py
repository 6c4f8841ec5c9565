"""``open_storage``: which URL gets which backend, and what an operator reads when the
object-store extra is not installed (in-process: the import is made to fail the way a
missing package makes it fail, ``sys.modules[name] = None``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from chunkup.errors import MissingExtra
from chunkup.storage import open_storage
from chunkup.storage.local import LocalStorage


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Make ``import <name>`` fail as if the package were not installed; the
    object-store backend is imported afresh so that it meets the failure."""

    def hide(name: str) -> None:
        monkeypatch.delitem(sys.modules, "chunkup.storage.object_store", raising=False)
        monkeypatch.setitem(sys.modules, name, None)

    return hide


@pytest.mark.parametrize("url", ["s3://bucket/prefix?region=us-east-1", "memory://"])
def test_an_object_store_url_without_the_s3_extra_names_the_extra_to_install(
    without: Callable[[str], None], url: str
) -> None:
    without("obstore")

    with pytest.raises(MissingExtra) as raised:
        open_storage(url)

    assert raised.value.extra == "s3"
    assert "pip install 'chunkup[s3]'" in str(raised.value)
    assert isinstance(raised.value.__cause__, ModuleNotFoundError)


def test_the_local_disk_needs_no_extra(without: Callable[[str], None], tmp_path: Path) -> None:
    without("obstore")

    storage = open_storage((tmp_path / "store").as_uri())

    assert isinstance(storage, LocalStorage) and storage.root == tmp_path / "store"


def test_a_broken_obstore_install_is_not_reported_as_a_missing_extra(
    without: Callable[[str], None],
) -> None:
    """Only obstore itself missing means "install the extra"; a part of it missing is
    another fault, and its own error is what the operator needs to see."""
    without("obstore.store")

    with pytest.raises(ModuleNotFoundError) as raised:
        open_storage("memory://")

    assert not isinstance(raised.value, MissingExtra)
    assert raised.value.name == "obstore.store"


def test_an_unknown_scheme_lists_the_supported_ones() -> None:
    with pytest.raises(ValueError, match=r"unsupported storage URL scheme 'ftp'.*s3://"):
        open_storage("ftp://example.com/media")
