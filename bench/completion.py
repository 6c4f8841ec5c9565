"""Completion time and peak memory of a 5 MiB photo and a PDF (issue 18's budget).

``python -m bench.completion`` uploads each file over real HTTP to a server in
this process (SQLite, local disk) and times only the complete call, ``--runs``
times, each on a fresh upload; then, in a fresh process per file, the peak RSS
that inspecting it adds, beside what decoding the image alone adds. Run it in
a checkout of an older commit (``PYTHONPATH=<old>/src``, from ``<old>``) for
the figures before a change; the photo is cached in the temp directory so both
runs see the same bytes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

MiB = 1024 * 1024
PHOTO = Path(tempfile.gettempdir()) / "chunkup-bench-photo.jpg"
PDF = Path(tempfile.gettempdir()) / "chunkup-bench-document.pdf"
HEIC = Path(tempfile.gettempdir()) / "chunkup-bench-photo.heic"


def photo() -> bytes:
    """A 4032 x 3024 JPEG (a 12 MP phone photo) just under 5 MiB: detail and grain."""
    if PHOTO.exists():
        return PHOTO.read_bytes()
    size = (4032, 3024)
    scene = Image.effect_mandelbrot(size, (-2.2, -1.2, 1.0, 1.2), 60).convert("RGB")
    grain = Image.effect_noise(size, 40).convert("RGB")
    image = Image.blend(scene, grain, 0.35)
    for quality in range(92, 50, -2):
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        if buffer.tell() <= 5 * MiB:
            PHOTO.write_bytes(buffer.getvalue())
            return buffer.getvalue()
    raise RuntimeError("could not make a photo under 5 MiB")


def heic() -> bytes:
    """The same photo as an iPhone's HEIC (made with pillow-heif), under 5 MiB."""
    if not HEIC.exists():
        from pillow_heif import register_heif_opener

        register_heif_opener()
        with Image.open(io.BytesIO(photo())) as image:
            for quality in (80, 70, 60, 50):
                buffer = io.BytesIO()
                image.save(buffer, "HEIF", quality=quality)
                if buffer.tell() <= 5 * MiB:
                    HEIC.write_bytes(buffer.getvalue())
                    break
    return HEIC.read_bytes()


def document() -> bytes:
    """A 3-page PDF of A4 scans at 150 dpi (noise: the slowest page to render)."""
    if not PDF.exists():
        from tests.support import pdf_document

        PDF.write_bytes(pdf_document(3, 1240, 1754))
    return PDF.read_bytes()


def completion_seconds(
    data: bytes, field: str, filename: str, runs: int
) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds of each complete call (CPU: this whole process, whose
    server thread does the work; on a shared machine the wall clock mostly measures the
    neighbours)."""
    from tests.support import LiveServer, md5_of, settings_for

    times, cpu = [], []
    with tempfile.TemporaryDirectory() as data_dir:
        server = LiveServer(settings_for(Path(data_dir))).start()
        try:
            with server.client() as client:
                for _ in range(runs):
                    upload_id = client.upload_chunks(data, field=field, filename=filename)
                    digest = md5_of(data)
                    started, cpu_started = time.perf_counter(), time.process_time()
                    response = client.complete(upload_id, digest)
                    times.append(time.perf_counter() - started)
                    cpu.append(time.process_time() - cpu_started)
                    assert response.status_code == 201, response.text
                    client.http.delete(f"/api/v2/media/{response.json()['id']}/")
        finally:
            server.stop()
    return times, cpu


def peak_rss_growth(path: Path, what: str) -> int:
    """Bytes of peak RSS that ``what`` (inspect or decode) of ``path`` adds, in a new process."""
    program = f"""
import re
from pathlib import Path
from PIL import Image
from chunkup.media import PdfSandbox, inspect_file, preload
from chunkup.models import MediaType
preload()
path = Path({str(path)!r})
data = path.read_bytes()
def high_water():  # VmHWM, not ru_maxrss: Linux carries that over from the parent at exec
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
before = high_water()
if {what!r} == "decode":
    Image.open(path).load()
else:
    kind = MediaType.DOC if path.suffix == ".pdf" else MediaType.IMAGE
    # a PDF is read in the sandbox's child: this process's peak is what the worker pays
    sandbox = PdfSandbox(memory_bytes=256 * 1024 * 1024, seconds=10)
    inspect_file(path, kind, max_pixels=40_000_000, pdf_sandbox=sandbox)
    sandbox.close()
print((high_water() - before) * 1024)
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    return int(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--heic", action="store_true", help="also a 12 MP HEIC (after issue 18)")
    args = parser.parse_args()
    photo_bytes, pdf_bytes = photo(), document()
    figures: dict[str, object] = {"photo_bytes": len(photo_bytes), "pdf_bytes": len(pdf_bytes)}
    files = [
        ("photo", photo_bytes, "image", "photo.jpg"),
        ("pdf", pdf_bytes, "document", "scan.pdf"),
    ]
    if args.heic:
        files.append(("heic", heic(), "image", "photo.heic"))
        figures["heic_bytes"] = len(heic())
        figures["heic_decode_peak_mib"] = round(peak_rss_growth(HEIC, "decode") / MiB, 1)
        figures["heic_inspect_peak_mib"] = round(peak_rss_growth(HEIC, "inspect") / MiB, 1)
    figures["photo_decode_peak_mib"] = round(peak_rss_growth(PHOTO, "decode") / MiB, 1)
    figures["photo_inspect_peak_mib"] = round(peak_rss_growth(PHOTO, "inspect") / MiB, 1)
    figures["pdf_inspect_peak_mib"] = round(peak_rss_growth(PDF, "inspect") / MiB, 1)
    for name, data, field, filename in files:
        times, cpu = completion_seconds(data, field, filename, args.runs)
        figures[f"{name}_complete_median_s"] = round(statistics.median(times), 3)
        figures[f"{name}_complete_min_s"] = round(min(times), 3)
        figures[f"{name}_complete_cpu_median_s"] = round(statistics.median(cpu), 3)
    figures["load_average_1min"] = round(os.getloadavg()[0], 1)  # the machine is shared
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
