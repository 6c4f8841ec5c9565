// One file's upload, as the contract describes it: the first chunk creates the
// upload, the others go up to PARALLEL at a time, the MD5 is computed on the way
// (in order, one chunk at a time, with spark-md5), then completion.
//
// Pause aborts every request in flight (AbortController) and asks the server
// which bytes it holds, so "paused" shows the true percentage; Resume starts
// again from the server's resume status: stored ranges are hashed, not sent.
// The same path resumes a file picked again after a reload. A file the server
// would refuse for its type or size is refused here, before a byte is sent.

import { ApiError } from "./api.js";

export const CHUNK_SIZE = 204800;
export const PARALLEL = 4;
const SPEED_WINDOW_MS = 5000;
const SPEED_SETTLE_MS = 500; // too early to tell before that
// HEIC/HEIF (iPhone photos) and AVIF too: the service stores them and adds a JPEG
const IMAGE_TYPES = new Set([
  "image/jpeg",
  "image/png",
  "image/gif",
  "image/webp",
  "image/heic",
  "image/heif",
  "image/avif",
]);
const IMAGE_NAME = /\.(jpe?g|png|gif|webp|heic|heif|avif)$/i;
const PDF_NAME = /\.pdf$/i;

/** "image", "document", or null for a file the service does not take. */
export function kindOf(file) {
  if (file.type === "application/pdf" || (!file.type && PDF_NAME.test(file.name))) {
    return "document";
  }
  if (IMAGE_TYPES.has(file.type) || (!file.type && IMAGE_NAME.test(file.name))) return "image";
  return null;
}

/** A refusal made by the page itself; `code` names the rule as the server would. */
export class Refused extends Error {
  constructor(code) {
    super(code);
    this.code = code;
  }
}

/** Why the page will not send `file`, or null: `limits` is `{image, document}` in bytes. */
export function refusal(file, limits) {
  const kind = kindOf(file);
  if (kind === null) return new Refused("unsupported_file");
  if (file.size === 0) return new Refused("empty_file");
  if (file.size > limits[kind]) return new Refused("file_too_large");
  return null;
}

function covered(ranges, start, end) {
  return ranges.some(([first, last]) => first <= start && end <= last);
}

function isAbort(error) {
  return error?.name === "AbortError";
}

export class Upload extends EventTarget {
  constructor(api, file, resumeStore) {
    super();
    this.api = api;
    this.file = file;
    this.store = resumeStore;
    this.field = kindOf(file) ?? "image";
    this.state = "queued"; // queued, uploading, paused, completing, done, failed
    this.uploadId = null;
    this.resumed = false;
    this.done = 0; // bytes the server acknowledged
    this.samples = []; // [time, bytes] of each acknowledged chunk
    this.sendingSince = null;
    this.controller = null;
    this.error = null;
    this.media = null;
  }

  get paused() {
    return this.state === "paused";
  }

  get fraction() {
    return this.file.size ? Math.min(1, this.done / this.file.size) : 1;
  }

  setState(state) {
    this.state = state;
    this.changed();
  }

  changed() {
    this.dispatchEvent(new Event("change"));
  }

  fail(error) {
    this.error = error;
    this.setState("failed");
  }

  /** Bytes per second the server acknowledged over the last few seconds. */
  get speed() {
    if (this.state !== "uploading" || this.sendingSince === null) return 0;
    const now = performance.now();
    this.samples = this.samples.filter(([time]) => now - time <= SPEED_WINDOW_MS);
    const span = Math.min(SPEED_WINDOW_MS, now - this.sendingSince);
    if (span < SPEED_SETTLE_MS) return 0;
    const bytes = this.samples.reduce((sum, [, count]) => sum + count, 0);
    return bytes / (span / 1000);
  }

  pause() {
    if (this.state !== "uploading") return;
    this.setState("paused");
    this.controller?.abort(new DOMException("Paused", "AbortError"));
  }

  /** Start again after a pause; resolves like `start`. */
  resume() {
    if (this.state !== "paused") return Promise.resolve(null);
    return this.start();
  }

  /** Upload until done (the Media), failed or paused (null). */
  async start() {
    this.setState("uploading");
    const controller = new AbortController();
    this.controller = controller;
    try {
      this.media = await this.run(controller.signal);
    } catch (error) {
      if (controller.signal.aborted && isAbort(error)) await this.showStoredBytes();
      else this.fail(error);
      return null;
    }
    this.store.forget(this.file);
    this.setState("done");
    this.dispatchEvent(new Event("uploaded"));
    return this.media;
  }

  /** After a pause: the percentage of the bytes the server really holds (an aborted
   * chunk may have arrived after all). */
  async showStoredBytes() {
    if (!this.uploadId) return;
    try {
      const status = await this.api.status(this.uploadId);
      if (this.paused) {
        this.done = status.ranges.reduce((sum, [first, last]) => sum + last - first + 1, 0);
        this.changed();
      }
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
    }
  }

  /** The stored ranges of this file's unfinished upload, if the server still has it:
   * the one this page started, or one remembered from before a reload. */
  async storedRanges(signal) {
    const uploadId = this.uploadId ?? this.store.get(this.file);
    if (!uploadId) return [];
    try {
      const status = await this.api.status(uploadId, signal);
      if (status.status !== "expired" && status.total === this.file.size) {
        if (this.uploadId !== uploadId) this.resumed = true;
        this.uploadId = uploadId;
        return status.ranges;
      }
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
    }
    this.store.forget(this.file);
    this.uploadId = null;
    return [];
  }

  async send(bytes, start, signal) {
    const response = await this.api.chunk({
      bytes,
      start,
      total: this.file.size,
      field: this.field,
      filename: this.file.name,
      uploadId: this.uploadId,
      signal,
    });
    if (!this.uploadId) {
      this.uploadId = response.upload_id;
      this.store.remember(this.file, this.uploadId);
    }
    this.done += bytes.byteLength;
    this.samples.push([performance.now(), bytes.byteLength]);
    this.changed();
  }

  async run(signal) {
    const stored = await this.storedRanges(signal);
    const size = this.file.size;
    const chunkEnd = (start) => Math.min(size, start + CHUNK_SIZE) - 1;
    this.done = 0;
    for (let start = 0; start < size; start += CHUNK_SIZE) {
      if (covered(stored, start, chunkEnd(start))) this.done += chunkEnd(start) - start + 1;
    }
    this.samples = [];
    this.sendingSince = performance.now();
    this.changed();
    const hash = new globalThis.SparkMD5.ArrayBuffer();
    const inFlight = new Set();
    for (let start = 0; start < size; start += CHUNK_SIZE) {
      signal.throwIfAborted();
      const end = chunkEnd(start);
      const bytes = await this.file.slice(start, end + 1).arrayBuffer();
      hash.append(bytes);
      if (covered(stored, start, end)) continue;
      if (!this.uploadId) {
        await this.send(bytes, start, signal); // the first chunk creates the upload
      } else {
        const sending = this.send(bytes, start, signal).finally(() => inFlight.delete(sending));
        sending.catch(() => {}); // seen by race/all below; the others must not go unhandled
        inFlight.add(sending);
        if (inFlight.size >= PARALLEL) await Promise.race(inFlight);
      }
    }
    await Promise.all(inFlight);
    signal.throwIfAborted();
    this.setState("completing");
    return this.api.complete(this.uploadId, hash.end());
  }
}
