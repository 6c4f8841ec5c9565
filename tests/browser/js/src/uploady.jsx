// react-uploady's ChunkedUploady as SelfCommunity's React UI drives it: 204800-byte
// chunks with Content-Range, the file in the `image` or `document` field, the
// upload_id of the first chunk's answer added to every later chunk
// (useChunkStartListener), then the MD5 of the whole file posted to complete.
import React, { useRef, useState } from "react";
import { createRoot } from "react-dom/client";
import ChunkedUploady, {
  useChunkFinishListener,
  useChunkStartListener,
  useItemFinishListener,
  useItemErrorListener,
  useUploady,
} from "@rpldy/chunked-uploady";
import SparkMD5 from "spark-md5";

const params = new URLSearchParams(location.search);
const api = params.get("api");
const token = params.get("token");
const CHUNK_SIZE = 204800;
window.uploadyResults = [];

async function md5Of(file) {
  const hash = new SparkMD5.ArrayBuffer();
  for (let start = 0; start < file.size; start += CHUNK_SIZE) {
    hash.append(await file.slice(start, start + CHUNK_SIZE).arrayBuffer());
  }
  return hash.end();
}

function Uploader({ label, type }) {
  const { showFileUpload } = useUploady();
  const uploads = useRef({}); // item id -> upload_id
  const [status, setStatus] = useState("");

  useChunkStartListener(({ item }) => {
    const uploadId = uploads.current[item.id];
    return uploadId ? { sendOptions: { params: { upload_id: uploadId } } } : {};
  });
  useChunkFinishListener(({ item, uploadData }) => {
    const answer = uploadData.response.data;
    if (answer?.upload_id) uploads.current[item.id] = answer.upload_id;
  });
  useItemErrorListener((item) => {
    setStatus(`failed: ${item.uploadResponse?.data?.code ?? item.state}`);
    window.uploadyResults.push({ name: item.file.name, error: item.uploadResponse?.data });
  });
  useItemFinishListener(async (item) => {
    const form = new FormData();
    form.append("upload_id", uploads.current[item.id]);
    form.append("type", type);
    form.append("md5", await md5Of(item.file));
    const response = await fetch(`${api}/api/v2/media/upload/complete/`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
      body: form,
    });
    const media = await response.json();
    setStatus(response.ok ? `uploaded as media ${media.id}` : `failed: ${media.code}`);
    window.uploadyResults.push({ name: item.file.name, status: response.status, media });
  });

  return (
    <p>
      <button type="button" onClick={() => showFileUpload()}>{label}</button>{" "}
      <output>{status}</output>
    </p>
  );
}

function destination() {
  return {
    url: `${api}/api/v2/media/upload/chunk/`,
    headers: { Authorization: `Bearer ${token}` },
  };
}

function App() {
  return (
    <>
      <ChunkedUploady destination={destination()} chunkSize={CHUNK_SIZE} inputFieldName="image"
        accept="image/*">
        <Uploader label="Upload an image" type="image" />
      </ChunkedUploady>
      <ChunkedUploady destination={destination()} chunkSize={CHUNK_SIZE}
        inputFieldName="document" accept="application/pdf">
        <Uploader label="Upload a document" type="doc" />
      </ChunkedUploady>
    </>
  );
}

createRoot(document.getElementById("uploady")).render(<App />);
