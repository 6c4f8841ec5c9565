// The media API over fetch: the bearer token, the contract's JSON errors, and
// retries with exponential backoff and jitter for what a retry can fix
// (network errors, 408, 429 after its Retry-After, 5xx), as the Python SDK does.
// A request takes an AbortSignal: Pause aborts what is in flight, and an abort
// is never retried.

export const RETRY = { tries: 8, baseSeconds: 0.5, capSeconds: 10 };
const RETRIED_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

export class ApiError extends Error {
  constructor(status, body) {
    super(`${status} ${body.code ?? "error"}: ${body.detail ?? "the server refused the request"}`);
    this.status = status;
    this.code = body.code;
    this.body = body;
  }
}

/** Waits `ms`, or less if `signal` aborts (then rejects with the abort's reason). */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

/** Milliseconds to wait before try number `attempt + 1`: the server's Retry-After, else
 * an exponential step with full jitter in its upper half. */
export function backoff(attempt, retryAfterSeconds = 0) {
  if (retryAfterSeconds > 0) return retryAfterSeconds * 1000;
  const ceiling = Math.min(RETRY.capSeconds, RETRY.baseSeconds * 2 ** attempt);
  return (ceiling / 2 + (Math.random() * ceiling) / 2) * 1000;
}

export class Api {
  constructor(base, token) {
    this.base = base.replace(/\/+$/, "");
    this.token = token;
  }

  url(path) {
    return /^https?:/.test(path) ? path : this.base + path;
  }

  async request(method, path, { body, headers = {}, signal } = {}) {
    for (let attempt = 0; ; attempt += 1) {
      const last = attempt + 1 >= RETRY.tries;
      let response;
      try {
        response = await fetch(this.url(path), {
          method,
          body,
          headers: { Authorization: `Bearer ${this.token}`, ...headers },
          signal,
        });
      } catch (error) {
        if (last || signal?.aborted) throw error;
        await sleep(backoff(attempt), signal);
        continue;
      }
      if (response.ok) return response.status === 204 ? null : response.json();
      if (RETRIED_STATUSES.has(response.status) && !last) {
        await sleep(backoff(attempt, Number(response.headers.get("Retry-After")) || 0), signal);
        continue;
      }
      throw new ApiError(response.status, await response.json().catch(() => ({})));
    }
  }

  /** One chunk: `field` is "image" or "document"; no uploadId for the first chunk. */
  chunk({ bytes, start, total, field, filename, uploadId, signal }) {
    const form = new FormData();
    if (uploadId) form.append("upload_id", uploadId);
    form.append(field, new Blob([bytes]), filename);
    const end = start + bytes.byteLength - 1;
    return this.request("POST", "/api/v2/media/upload/chunk/", {
      body: form,
      headers: { "Content-Range": `bytes ${start}-${end}/${total}` },
      signal,
    });
  }

  status(uploadId, signal) {
    return this.request("GET", `/api/v2/media/upload/${encodeURIComponent(uploadId)}/`, {
      signal,
    });
  }

  complete(uploadId, md5, signal) {
    return this.request("POST", "/api/v2/media/upload/complete/", {
      body: JSON.stringify({ upload_id: uploadId, md5 }),
      headers: { "Content-Type": "application/json" },
      signal,
    });
  }

  /** A page of the caller's media: a path with limit/offset, or a page's `next` URL. */
  listMedia(pageUrl) {
    return this.request("GET", pageUrl);
  }

  deleteMedia(id) {
    return this.request("DELETE", `/api/v2/media/${id}/`);
  }

  /** `POST /dev/token`: only a server started with `--dev` answers it. */
  async devToken() {
    const response = await fetch(this.url("/dev/token"), { method: "POST" });
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => ({})));
    return (await response.json()).token;
  }
}
