// One file's upload, as the contract describes it: the first chunk creates the
// upload, the others go up to PARALLEL at a time, the MD5 is computed on the way
// (in order, one chunk at a time, with spark-md5), then completion. Pausing stops
// new chunks from starting; the ones in flight finish. A file picked again after
// a reload resumes from the server's resume status: stored ranges are hashed but
// not sent again.

import { ApiError } from "./api.js";

export const CHUNK_SIZE = 204800;
export const PARALLEL = 4;
const SPEED_WINDOW_MS = 3000;

export function fieldFor(file) {
  const pdf = file.type === "application/pdf" || /\.pdf$/i.test(file.name);
  return pdf ? "document" : "image";
}

function covered(ranges, start, end) {
  return ranges.some(([first, last]) => first <= start && end <= last);
}

export class Upload extends EventTarget {
  constructor(api, file, resumeStore) {
    super();
    this.api = api;
    this.file = file;
    this.store = resumeStore;
    this.field = fieldFor(file);
    this.state = "waiting";
    this.uploadId = null;
    this.resumed = false;
    this.done = 0; // bytes the server holds
    this.samples = [];
    this.paused = false;
    this.release = null;
    this.error = null;
    this.media = null;
  }

  setState(state) {
    this.state = state;
    this.changed();
  }

  changed() {
    this.dispatchEvent(new Event("change"));
  }

  /** Bytes per second sent over the last few seconds. */
  get speed() {
    const now = performance.now();
    this.samples = this.samples.filter(([time]) => now - time <= SPEED_WINDOW_MS);
    if (this.samples.length === 0) return 0;
    const bytes = this.samples.reduce((sum, [, count]) => sum + count, 0);
    return bytes / (Math.max(now - this.samples[0][0], 250) / 1000);
  }

  pause() {
    if (this.state !== "uploading") return;
    this.paused = true;
    this.setState("paused");
  }

  resume() {
    if (this.state !== "paused") return;
    this.paused = false;
    this.setState("uploading");
    this.release?.();
  }

  async gate() {
    while (this.paused) await new Promise((resolve) => (this.release = resolve));
  }

  async start() {
    this.setState("uploading");
    try {
      this.media = await this.run();
      this.store.forget(this.file);
      this.setState("done");
    } catch (error) {
      this.error = error;
      this.setState("failed");
    }
    return this.media;
  }

  /** The stored ranges of this file's unfinished upload, if the server still has it. */
  async storedRanges() {
    const uploadId = this.store.get(this.file);
    if (!uploadId) return [];
    try {
      const status = await this.api.status(uploadId);
      if (status.status !== "expired" && status.total === this.file.size) {
        this.uploadId = uploadId;
        this.resumed = true;
        return status.ranges;
      }
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
    }
    this.store.forget(this.file);
    return [];
  }

  async send(bytes, start) {
    const response = await this.api.chunk({
      bytes,
      start,
      total: this.file.size,
      field: this.field,
      filename: this.file.name,
      uploadId: this.uploadId,
    });
    if (!this.uploadId) {
      this.uploadId = response.upload_id;
      this.store.remember(this.file, this.uploadId);
    }
    this.done += bytes.byteLength;
    this.samples.push([performance.now(), bytes.byteLength]);
    this.changed();
  }

  async run() {
    const stored = await this.storedRanges();
    const hash = new globalThis.SparkMD5.ArrayBuffer();
    const inFlight = new Set();
    for (let start = 0; start < this.file.size; start += CHUNK_SIZE) {
      await this.gate();
      const end = Math.min(this.file.size, start + CHUNK_SIZE) - 1;
      const bytes = await this.file.slice(start, end + 1).arrayBuffer();
      hash.append(bytes);
      if (covered(stored, start, end)) {
        this.done += bytes.byteLength;
        this.changed();
      } else if (!this.uploadId) {
        await this.send(bytes, start); // the first chunk creates the upload
      } else {
        const sending = this.send(bytes, start).finally(() => inFlight.delete(sending));
        inFlight.add(sending);
        if (inFlight.size >= PARALLEL) await Promise.race(inFlight);
      }
    }
    await Promise.all(inFlight);
    await this.gate();
    this.setState("completing");
    return this.api.complete(this.uploadId, hash.end());
  }
}
