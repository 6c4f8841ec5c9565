// The page: a token, files dropped or picked, one row per upload with progress,
// speed and pause/resume, and the grid of the user's media. The API may live on
// another origin: `?api=https://media.example.com` (CORS), else this page's origin.
// Files picked before a token wait in the queue and go once one is given.

import { Api } from "./api.js";
import { Gallery } from "./gallery.js";
import { describe, formatBytes } from "./messages.js";
import { ResumeStore } from "./resume.js";
import { refusal, Upload } from "./uploader.js";

const TOKEN_KEY = "chunkup:token";
const SPEED_REFRESH_MS = 1000;
const $ = (selector) => document.querySelector(selector);

const apiBase = new URLSearchParams(location.search).get("api") || location.origin;
const api = new Api(apiBase, "");
const resumeStore = new ResumeStore(apiBase);
const limits = {
  image: Number(document.body.dataset.imageMax),
  document: Number(document.body.dataset.documentMax),
};
const who = $("#who");
const queue = []; // uploads waiting for a token or for the one before them
let draining = false;

const gallery = new Gallery(
  {
    grid: $("#grid"),
    more: $("#more"),
    count: $("#count"),
    template: $("#media-card"),
    status: $("#gallery-status"),
  },
  {
    async onDelete(media, card) {
      card.querySelector(".delete").disabled = true;
      try {
        await api.deleteMedia(media.id);
        await gallery.refresh(api);
      } catch (error) {
        card.querySelector(".delete").disabled = false;
        gallery.say(`Could not delete it. ${describe(error, limits).sentence}`);
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
    drain();
  } catch (error) {
    api.token = "";
    who.textContent = `That token did not work. ${describe(error, limits).sentence}`;
  }
}

function formatSpeed(bytesPerSecond) {
  if (!(bytesPerSecond > 0)) return "";
  return bytesPerSecond < 1024 * 1024
    ? `${Math.round(bytesPerSecond / 1024)} KiB/s`
    : `${(bytesPerSecond / 1024 / 1024).toFixed(1)} MiB/s`;
}

const STATE_TEXT = {
  queued: "waiting for a token",
  uploading: "uploading",
  paused: "paused",
  completing: "checking the file",
  done: "done",
  failed: "failed",
};

function showUpload(upload) {
  const row = $("#upload-row").content.firstElementChild.cloneNode(true);
  const name = upload.file.name;
  row.querySelector(".name").textContent = name;
  row.querySelector(".name").title = name;
  const bar = row.querySelector(".bar");
  bar.setAttribute("aria-label", `Upload of ${name}`);
  const pause = row.querySelector(".pause");
  pause.addEventListener("click", () => (upload.paused ? upload.resume() : upload.pause()));
  const error = row.querySelector(".error");
  const render = () => {
    const percent = Math.floor(upload.fraction * 100);
    row.querySelector(".fill").style.width = `${upload.fraction * 100}%`;
    bar.setAttribute("aria-valuenow", String(percent));
    row.dataset.state = upload.state;
    row.dataset.uploadId = upload.uploadId ?? "";
    row.dataset.done = String(upload.done);
    row.dataset.resumed = String(upload.resumed);
    row.querySelector(".percent").textContent = `${percent}%`;
    row.querySelector(".speed").textContent = formatSpeed(upload.speed);
    row.querySelector(".state").textContent = STATE_TEXT[upload.state] ?? upload.state;
    pause.textContent = upload.paused ? "Resume" : "Pause";
    pause.setAttribute("aria-label", `${upload.paused ? "Resume" : "Pause"} ${name}`);
    pause.hidden = !["uploading", "paused"].includes(upload.state);
    error.hidden = upload.state !== "failed";
    if (upload.state === "failed") {
      const { sentence, code } = describe(upload.error, limits);
      const support = document.createElement("code");
      support.textContent = `(code ${code})`;
      error.replaceChildren(`${sentence} `, support);
    }
  };
  upload.addEventListener("change", render);
  upload.addEventListener("uploaded", () =>
    gallery.refresh(api).catch((failure) => gallery.say(describe(failure, limits).sentence)),
  );
  render();
  const ticking = setInterval(() => {
    if (upload.state === "uploading") render();
    else if (["done", "failed"].includes(upload.state)) clearInterval(ticking);
  }, SPEED_REFRESH_MS);
  $("#uploads").prepend(row);
}

/** Start the queued uploads one after another, once there is a token. A paused
 * upload gives way to the next; Resume starts it again on its own. */
async function drain() {
  if (draining || !api.token) return;
  draining = true;
  try {
    while (queue.length > 0 && api.token) await queue.shift().start();
  } finally {
    draining = false;
  }
}

function uploadFiles(files) {
  for (const file of files) {
    const upload = new Upload(api, file, resumeStore);
    showUpload(upload);
    const refused = refusal(file, limits);
    if (refused) upload.fail(refused);
    else queue.push(upload);
  }
  if (!api.token && queue.length > 0) {
    who.textContent = "Your files wait for a token: paste one and press Use token.";
    $("#token").focus();
  }
  drain();
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
  $("#image-max").textContent = formatBytes(limits.image);
  $("#document-max").textContent = formatBytes(limits.document);
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
      who.textContent = `No dev token. ${describe(error, limits).sentence}`;
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
