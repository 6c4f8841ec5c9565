"""Looking inside uploaded files: is it really the image or PDF it claims to be,
and what a feed needs to show it (displayed size, thumbnail, preview, no metadata)."""

from chunkup.media.inspect import Inspection, inspect_file
from chunkup.media.renditions import Rendition

__all__ = ["Inspection", "Rendition", "inspect_file"]
