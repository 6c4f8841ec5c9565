"""Webhooks: events recorded in an outbox and delivered at least once, and the
pre-create hook that lets the application refuse an upload.

``signing`` signs as the Standard Webhooks specification says; ``events``
writes the outbox rows inside the caller's transaction; ``delivery`` is the
loop every node runs; ``pre_create`` asks the application before an upload
exists. Nothing here imports an HTTP framework; httpx is the client.
"""
