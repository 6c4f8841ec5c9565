"""Looking inside uploaded files: is it really the image or PDF it claims to be,
and what a feed needs to show it (displayed size, thumbnail, preview, no metadata)."""

from chunkup.media.inspect import Inspection, inspect_file
from chunkup.media.renditions import Rendition
from chunkup.media.sandbox import PdfSandbox

__all__ = ["Inspection", "PdfSandbox", "Rendition", "inspect_file", "preload"]


def preload() -> None:
    """Load the decoders now, at start-up, not in the first completion.

    Pillow registers its format plugins (HEIF through pillow-heif) on first
    use: time the first upload of each worker would otherwise wait for. pypdf
    and PDFium are not loaded here: only the PDF sandbox's children use them
    (``sandbox.py``).
    """
    from PIL import Image

    from chunkup.media.inspect import register_heif

    Image.init()
    register_heif()
