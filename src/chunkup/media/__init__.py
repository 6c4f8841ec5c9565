"""Looking inside uploaded files: is it really the image or PDF it claims to be."""

from chunkup.media.inspect import Inspection, inspect_file

__all__ = ["Inspection", "inspect_file"]
