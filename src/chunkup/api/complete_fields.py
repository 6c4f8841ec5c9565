"""The complete call's fields, read into the values the completion service takes.

The body (JSON, a urlencoded or a multipart form) gives strings or nothing;
here they become an upload id, a lower-case MD5 and a Media type, or the
contract's 400 for the first field that is missing or malformed, in the
order the contract lists them: ``upload_id``, ``md5``, ``type``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from chunkup.errors import FieldRequired, InvalidField
from chunkup.models import MediaType
from chunkup.uploads.kinds import parse_media_type

_MD5 = re.compile(r"[0-9a-fA-F]{32}")


@dataclass(frozen=True, slots=True)
class CompleteFields:
    upload_id: str
    md5: str  # 32 lower-case hexadecimal digits
    media_type: MediaType | None  # None: the upload's kind decides


def complete_fields(fields: Mapping[str, str | None]) -> CompleteFields:
    upload_id = fields.get("upload_id")
    if not upload_id:
        raise FieldRequired("'upload_id' is required.", field="upload_id")
    return CompleteFields(
        upload_id, parse_md5(fields.get("md5")), parse_media_type(fields.get("type"))
    )


def parse_md5(value: str | None) -> str:
    if value is None or value == "":
        raise FieldRequired("'md5' is required.", field="md5")
    if not _MD5.fullmatch(value):
        raise InvalidField("'md5' must be 32 hexadecimal digits.", field="md5")
    return value.lower()
