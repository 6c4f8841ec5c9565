#!/usr/bin/env node
// Upload a file to chunkup with the real SelfCommunity JS client, unchanged.
//
//   node selfcommunity_upload.mjs <base_url> <token> <file_path> <image|document> <complete_type>
//
// Every request is made by @selfcommunity/api-services itself (MediaService.*);
// the script only configures the library's shared `http` client (base URL, Bearer
// token, default POST Content-Type) through the library's own API.
// Prints exactly one JSON line on stdout; anything the library logs goes to stderr.
//
// Optional environment:
//   SC_CHUNK_SIZE     chunk size in bytes (default 204800)
//   SC_COMPLETE_BODY  encoding of the complete request: json (default, the library's
//                     default), multipart (what @selfcommunity/react-ui sends) or urlencoded
//   SC_KEEP           if "1", skip deleteMedia ("deleted": false)
//   SC_POST_DEFAULT   "keep": leave the library's default POST Content-Type as it is
//                     (no setDefaultHeader call at all), to check whether the
//                     installed axios still needs the workaround below

import {createRequire} from 'node:module';
import {createHash} from 'node:crypto';
import {readFile} from 'node:fs/promises';
import {basename, extname} from 'node:path';

// The library logs through console.info/log (stdout): keep stdout for our one JSON line.
console.log = console.info = console.debug = console.error;

// The package's ESM build uses extensionless/directory imports that Node refuses
// (ERR_UNSUPPORTED_DIR_IMPORT), so load its CommonJS build.
const require = createRequire(import.meta.url);
const {http, MediaService} = require('@selfcommunity/api-services');

const MIME = {
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.gif': 'image/gif',
  '.webp': 'image/webp', '.pdf': 'application/pdf'
};

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function fail(err) {
  const res = err && typeof err === 'object' ? err.response : undefined;
  const message = typeof err === 'string' ? err : (err && err.message) || String(err);
  out({error: message, status: res ? res.status : null, body: res ? res.data ?? null : null});
  process.exitCode = 1;
}

function setPostContentType(value) {
  http.setDefaultHeader({name: 'Content-Type', value, methods: ['post']});
}

async function main() {
  const [baseUrl, token, filePath, field, completeType] = process.argv.slice(2);
  if (!baseUrl || !token || !filePath || !field || !completeType) {
    throw new Error('usage: node selfcommunity_upload.mjs <base_url> <token> <file_path> <image|document> <complete_type>');
  }
  if (field !== 'image' && field !== 'document') throw new Error(`field must be image or document, not ${field}`);
  const chunkSize = Number(process.env.SC_CHUNK_SIZE || 204800);
  const completeBody = process.env.SC_COMPLETE_BODY || 'json';
  if (!['json', 'multipart', 'urlencoded'].includes(completeBody)) throw new Error(`bad SC_COMPLETE_BODY ${completeBody}`);

  // Library configuration: same calls @selfcommunity/react-core makes.
  http.setBasePortal(baseUrl.replace(/\/+$/, ''));
  http.setAuthorizeToken(token); // -> default header "Authorization: Bearer <token>"

  const data = await readFile(filePath);
  const total = data.length;
  if (total === 0) throw new Error('empty file');
  const filename = basename(filePath);
  const mime = MIME[extname(filePath).toLowerCase()] || 'application/octet-stream';
  const md5 = createHash('md5').update(data).digest('hex');

  // The library's ApiClient sets a default "Content-Type: application/json" for POST,
  // and chunkUploadMedia() replaces config.headers with only Content-Range, so that
  // default wins and axios would JSON-serialize the FormData ({"image":{}}: the bytes
  // are lost). Switch the default to multipart/form-data, as react-ui does for its
  // uploads; axios then replaces it with "multipart/form-data; boundary=...".
  const keepDefault = process.env.SC_POST_DEFAULT === 'keep';
  if (!keepDefault) setPostContentType('multipart/form-data');

  const chunks = [];
  let uploadId = null;
  for (let start = 0; start < total; start += chunkSize) {
    const end = Math.min(start + chunkSize, total) - 1; // inclusive
    // Must be a spec FormData (Node 20 global): a plain object {image: Blob} makes
    // axios use the form-data package, which rejects Blobs ("source.on is not a function").
    const form = new FormData();
    form.append(field, new Blob([data.subarray(start, end + 1)], {type: mime}), filename);
    if (uploadId) form.append('upload_id', uploadId);
    const res = await MediaService.chunkUploadMedia(form, start, end, total);
    chunks.push(res);
    if (!uploadId) {
      if (!res || !res.upload_id) throw new Error(`first chunk response has no upload_id: ${JSON.stringify(res)}`);
      uploadId = res.upload_id;
    }
  }

  // Back to the library's default (application/json) for the other calls.
  // chunkUploadMediaComplete keeps config.headers, so the other encodings are chosen
  // per request, exactly as react-ui's MediaChunkUploader does for multipart.
  if (!keepDefault) setPostContentType('application/json');
  const completeFields = {upload_id: uploadId, md5, type: completeType};
  let media;
  if (completeBody === 'json') {
    media = await MediaService.chunkUploadMediaComplete(completeFields);
  } else if (completeBody === 'multipart') {
    const form = new FormData();
    for (const [k, v] of Object.entries(completeFields)) form.append(k, v);
    media = await MediaService.chunkUploadMediaComplete(form, {headers: {'Content-Type': 'multipart/form-data'}});
  } else {
    media = await MediaService.chunkUploadMediaComplete(completeFields, {headers: {'Content-Type': 'application/x-www-form-urlencoded'}});
  }

  if (!media || media.id === undefined || media.id === null) throw new Error(`complete response has no id: ${JSON.stringify(media)}`);
  const fetched = await MediaService.getSpecificMedia(media.id);
  let deleted = false;
  if (process.env.SC_KEEP !== '1') {
    await MediaService.deleteMedia(media.id);
    deleted = true;
  }
  out({chunks, media, fetched, deleted});
}

main().catch(fail);
