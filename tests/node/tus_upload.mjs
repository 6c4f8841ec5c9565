#!/usr/bin/env node
// Upload a file to chunkup's tus endpoint with the real tus-js-client, unchanged,
// pausing after the first chunk and resuming from the URL the client stored.
//
//   node tus_upload.mjs <base_url> <token> <file_path> <type> <url_storage_file>
//
// Every request is made by tus-js-client itself (Upload.start/abort,
// findPreviousUploads, resumeFromPreviousUpload). Prints one JSON line on stdout:
// {"url", "resumedUrl", "pausedAt", "resumedFrom", "offset", "mediaId"};
// on an error {"error": msg} and exit code 1.
//
// Optional environment: TUS_CHUNK_SIZE (default 65536).

import {readFile} from 'node:fs/promises';
import {basename, extname} from 'node:path';
import {Upload, FileUrlStorage} from 'tus-js-client';

const MIME = {'.png': 'image/png', '.jpg': 'image/jpeg', '.pdf': 'application/pdf'};

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function options(baseUrl, token, filePath, type, storagePath, hooks) {
  return {
    endpoint: `${baseUrl.replace(/\/+$/, '')}/api/v2/media/tus/`,
    headers: {Authorization: `Bearer ${token}`},
    chunkSize: Number(process.env.TUS_CHUNK_SIZE || 65536),
    metadata: {filename: basename(filePath), filetype: MIME[extname(filePath)] || 'application/octet-stream', type},
    urlStorage: new FileUrlStorage(storagePath),
    storeFingerprintForResuming: true,
    removeFingerprintOnSuccess: false,
    retryDelays: null,
    ...hooks,
  };
}

async function main() {
  const [baseUrl, token, filePath, type, storagePath] = process.argv.slice(2);
  if (!storagePath) throw new Error('usage: node tus_upload.mjs <base_url> <token> <file> <type> <url_storage_file>');
  const data = await readFile(filePath);

  // 1. start, and pause (abort without terminating) once the first chunk is stored
  let pausedAt = null;
  const first = await new Promise((resolve, reject) => {
    const upload = new Upload(data, options(baseUrl, token, filePath, type, storagePath, {
      onError: reject,
      onSuccess: () => reject(new Error('finished before the pause')),
      onChunkComplete: (_size, accepted) => {
        if (pausedAt !== null) return;
        pausedAt = accepted;
        upload.abort(false).then(() => resolve(upload), reject);
      },
    }));
    upload.start();
  });

  // 2. a new Upload object finds the stored URL and resumes from the server's offset
  let resumedFrom = null;
  let mediaId = null;
  const second = await new Promise((resolve, reject) => {
    const upload = new Upload(data, options(baseUrl, token, filePath, type, storagePath, {
      onError: reject,
      onSuccess: () => resolve(upload),
      onProgress: (sent) => { if (resumedFrom === null) resumedFrom = sent; },
      onAfterResponse: (_req, res) => {
        const id = res.getHeader('Media-Id');
        if (id) mediaId = id;
      },
    }));
    upload.findPreviousUploads().then((previous) => {
      if (previous.length === 0) return reject(new Error('no previous upload stored'));
      upload.resumeFromPreviousUpload(previous[0]);
      upload.start();
    }, reject);
  });

  out({url: first.url, resumedUrl: second.url, pausedAt, resumedFrom, offset: second._offset, mediaId});
}

main().catch((err) => {
  out({error: (err && err.message) || String(err)});
  process.exitCode = 1;
});
