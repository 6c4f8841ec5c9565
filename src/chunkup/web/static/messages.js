// What went wrong, in sentences a person understands. The server's code is kept
// beside the sentence (for support: "code file_too_large" names the exact rule),
// but the sentence comes first and says what to do next.

const SENTENCES = {
  file_too_large: "This file is too large: images may be at most {image}, PDFs at most {document}.",
  upload_too_large: "This file is too large: images may be at most {image}, PDFs at most {document}.",
  unsupported_file: "Only JPEG, PNG, GIF, WebP, HEIC and AVIF images and PDF documents can be uploaded.",
  invalid_image: "This file is not an image the service can read (JPEG, PNG, GIF, WebP, HEIC or AVIF).",
  invalid_document: "This file is not a PDF the service can read.",
  md5_mismatch: "The file arrived damaged or changed while it was sent. Pick it again to retry.",
  invalid_token: "Your token was refused: it may have expired. Paste a new one and pick the file again.",
  rate_limited: "The server is busy. Wait a minute and pick the file again.",
  too_many_uploads: "You have too many unfinished uploads. Let some finish, then pick this file again.",
  upload_quota_exceeded: "Your unfinished uploads hold too many bytes. Let some finish first.",
  upload_expired: "This upload waited too long and expired. Pick the file again to start over.",
  upload_not_found: "The server no longer knows this upload. Pick the file again to start over.",
  storage_unavailable: "The server cannot store files right now. Try again later.",
  empty_file: "This file is empty: there is nothing to upload.",
  database_unavailable: "The server cannot record uploads right now. Try again later.",
  network: "The connection to the server failed. Check the network and pick the file again.",
};

/** Bytes as a person reads them: 5 MiB, 200 KiB, 800 B. */
export function formatBytes(size) {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${Math.round(size / 1024)} KiB`;
  const mib = size / 1024 / 1024;
  return `${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB`;
}

/** `{sentence, code}` for an error: an ApiError (with the contract's code), a
 * refusal made on this page, or a network failure. */
export function describe(error, limits) {
  const code = error?.code ?? (error instanceof TypeError ? "network" : undefined);
  const template = SENTENCES[code];
  if (template) {
    const sentence = template
      .replace("{image}", formatBytes(limits.image))
      .replace("{document}", formatBytes(limits.document));
    return { sentence, code };
  }
  const detail = error?.body?.detail ?? error?.message ?? "Something went wrong.";
  return { sentence: /[.!?]$/.test(detail) ? detail : `${detail}.`, code: code ?? "error" };
}
