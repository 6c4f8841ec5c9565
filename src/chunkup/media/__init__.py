"""Looking inside uploaded files: is it really the image or PDF it claims to be,
and what a feed needs to show it (displayed size, thumbnail, preview, no metadata)."""

from chunkup.media.inspect import Inspection, inspect_file
from chunkup.media.renditions import Rendition

__all__ = ["Inspection", "Rendition", "inspect_file", "preload"]


def preload() -> None:
    """Load the decoders now, at start-up, not in the first completion.

    Pillow registers its format plugins (HEIF through pillow-heif), and pypdf
    and PDFium are imported, on first use: about 150 ms that the first upload
    of each worker would otherwise wait for.
    """
    import pypdf  # noqa: F401
    import pypdfium2  # noqa: F401
    from PIL import Image

    from chunkup.media.inspect import register_heif

    Image.init()
    register_heif()
