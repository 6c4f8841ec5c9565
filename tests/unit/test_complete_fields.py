"""The complete call's fields, checked in the contract's order before any byte is read."""

from __future__ import annotations

import pytest

from chunkup.api.complete_fields import CompleteFields, complete_fields
from chunkup.errors import FieldRequired, InvalidField, InvalidType
from chunkup.models import MediaType

MD5 = "0123456789abcdef0123456789ABCDEF"


@pytest.mark.parametrize(
    ("fields", "error", "field"),
    [
        ({"md5": MD5}, FieldRequired, "upload_id"),
        ({"upload_id": "", "md5": MD5}, FieldRequired, "upload_id"),
        ({"upload_id": "u", "type": "video"}, FieldRequired, "md5"),  # md5 before type
        ({"upload_id": "u", "md5": "0" * 31}, InvalidField, "md5"),
        ({"upload_id": "u", "md5": "g" * 32}, InvalidField, "md5"),
        ({"upload_id": "u", "md5": MD5, "type": "video"}, InvalidType, "type"),
    ],
)
def test_the_first_missing_or_malformed_field_is_named(
    fields: dict[str, str | None], error: type[Exception], field: str
):
    with pytest.raises(error) as raised:
        complete_fields(fields)
    assert raised.value.extra["field"] == field  # type: ignore[attr-defined]


def test_the_fields_become_an_id_a_lower_case_md5_and_a_media_type():
    assert complete_fields({"upload_id": "u", "md5": MD5, "type": "eimage"}) == CompleteFields(
        "u", MD5.lower(), MediaType.EIMAGE
    )
    assert complete_fields({"upload_id": "u", "md5": MD5, "type": ""}).media_type is None
