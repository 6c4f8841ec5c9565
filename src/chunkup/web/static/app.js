// The page: a token, files dropped or picked, one row per upload with progress,
// speed and pause/resume, and the grid of the user's media. The API may live on
// another origin: `?api=https://media.example.com` (CORS), else this page's origin.

import { Api } from "./api.js";
import { Gallery } from "./gallery.js";
import { ResumeStore } from "./resume.js";
import { Upload } from "./uploader.js";

const TOKEN_KEY = "chunkup:token";
const $ = (selector) => document.querySelector(selector);

const apiBase = new URLSearchParams(location.search).get("api") || location.origin;
const api = new Api(apiBase, "");
const resumeStore = new ResumeStore(apiBase);
const who = $("#who");

const gallery = new Gallery(
  { grid: $("#grid"), more: $("#more"), count: $("#count"), template: $("#media-card") },
  {
    async onDelete(media, card) {
      card.querySelector(".delete").disabled = true;
      try {
        await api.deleteMedia(media.id);
        await gallery.refresh(api);
      } catch (error) {
        card.querySelector(".delete").disabled = false;
        showError("Could not delete")(error);
      }
    },
  },
);

async function useToken(token) {
  api.token = token.trim();
  sessionStorage.setItem(TOKEN_KEY, api.token);
  try {
    await gallery.refresh(api);
    who.textContent = `Signed in; API at ${apiBase}`;
    document.body.dataset.ready = "true";
  } catch (error) {
    who.textContent = `That token did not work: ${error.message}`;
  }
}

function formatSpeed(bytesPerSecond) {
  return bytesPerSecond > 0 ? `${(bytesPerSecond / 1024 / 1024).toFixed(2)} MB/s` : "";
}

function showUpload(upload) {
  const row = $("#upload-row").content.firstElementChild.cloneNode(true);
  row.querySelector(".name").textContent = upload.file.name;
  const progress = row.querySelector("progress");
  const pause = row.querySelector(".pause");
  pause.addEventListener("click", () => (upload.paused ? upload.resume() : upload.pause()));
  const render = () => {
    const fraction = upload.file.size ? upload.done / upload.file.size : 1;
    progress.value = fraction;
    row.dataset.state = upload.state;
    row.dataset.uploadId = upload.uploadId ?? "";
    row.dataset.done = String(upload.done);
    row.dataset.resumed = String(upload.resumed);
    row.querySelector(".percent").textContent = `${Math.floor(fraction * 100)}%`;
    row.querySelector(".speed").textContent =
      upload.state === "uploading" ? formatSpeed(upload.speed) : "";
    const failed = upload.state === "failed" ? upload.error.message : upload.state;
    row.querySelector(".state").textContent = failed;
    row.querySelector(".state").title = failed;
    pause.textContent = upload.paused ? "Resume" : "Pause";
    pause.hidden = !["uploading", "paused"].includes(upload.state);
  };
  upload.addEventListener("change", render);
  render();
  $("#uploads").prepend(row);
}

async function uploadFiles(files) {
  if (!api.token) {
    who.textContent = "Enter a token first.";
    return;
  }
  const uploads = [...files].map((file) => new Upload(api, file, resumeStore));
  uploads.forEach(showUpload);
  for (const upload of uploads) {
    if (await upload.start()) await gallery.refresh(api).catch(showError("Could not list media"));
  }
}

function showError(what) {
  return (error) => (who.textContent = `${what}: ${error.message}`);
}

function wireDropZone() {
  const drop = $("#drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    uploadFiles(event.dataTransfer.files);
  });
  $("#file-input").addEventListener("change", (event) => {
    uploadFiles(event.target.files);
    event.target.value = "";
  });
}

function wireToken() {
  $("#token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    useToken($("#token").value);
  });
  const devButton = $("#dev-token");
  devButton.hidden = document.body.dataset.dev !== "true";
  devButton.addEventListener("click", async () => {
    try {
      const token = await api.devToken();
      $("#token").value = token;
      await useToken(token);
    } catch (error) {
      who.textContent = `No dev token: ${error.message}`;
    }
  });
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    $("#token").value = saved;
    useToken(saved);
  } else {
    document.body.dataset.ready = "true";
  }
}

wireToken();
wireDropZone();

