"""The upload state machine: chunks, byte-range bookkeeping, completion, expiry.

No HTTP here and no SQL: the service talks to ``db.queries`` and ``storage``.
"""
