// Uppy as its docs show it, with no per-file hooks: Dashboard + Tus, the token
// in `headers`. Everything Uppy does is its own; the page only exposes what the
// test reads (the Uppy instance, for its state and events).
import Uppy from "@uppy/core";
import Dashboard from "@uppy/dashboard";
import Tus from "@uppy/tus";
import "@uppy/core/css/style.min.css";
import "@uppy/dashboard/css/style.min.css";

const params = new URLSearchParams(location.search);
const api = params.get("api");
const token = params.get("token");
// the test page's own knob (small PATCHes, to pause half-way); Uppy's default otherwise
const chunkSize = params.has("chunkSize") ? { chunkSize: Number(params.get("chunkSize")) } : {};

const uppy = new Uppy()
  .use(Dashboard, { inline: true, target: "#uppy", proudlyDisplayPoweredByUppy: false })
  .use(Tus, {
    endpoint: `${api}/api/v2/media/tus/`,
    headers: { Authorization: `Bearer ${token}` },
    ...chunkSize,
  });

window.uppy = uppy;
window.uppyResults = [];
uppy.on("upload-success", (file, response) => {
  window.uppyResults.push({ name: file.name, type: file.type, uploadURL: response.uploadURL });
});
uppy.on("upload-error", (file, error) => {
  window.uppyResults.push({ name: file?.name, error: String(error) });
});
