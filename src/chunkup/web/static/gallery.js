// The grid of the caller's media, newest first, from GET /api/v2/media/ one
// page at a time (DRF's limit/offset: count, next, previous, results). Every
// text the user chose (a file name) goes in with textContent, never as HTML.

import { decode as decodeBlurhash } from "./vendor/blurhash.js";

export const PAGE_SIZE = 24;
// the card's picture is 100% of a grid column: about 320 px wide, a phone's full width
const CARD_SIZES = "(max-width: 640px) 100vw, 320px";

function formatBytes(size) {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(0)} KB`;
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

function fileUrl(media) {
  return media.type === "doc" ? media.url : media.image;
}

// The BlurHash, decoded to a 32 x 24 picture, as the <img>'s background until it loads.
function paintBlurhash(image, hash) {
  try {
    const canvas = document.createElement("canvas");
    canvas.width = 32;
    canvas.height = 24;
    const context = canvas.getContext("2d");
    context.putImageData(new ImageData(decodeBlurhash(hash, 32, 24), 32, 24), 0, 0);
    image.style.backgroundImage = `url(${canvas.toDataURL()})`;
    image.style.backgroundSize = "cover";
    image.addEventListener("load", () => (image.style.backgroundImage = ""), { once: true });
  } catch (error) {
    console.warn("blurhash not painted", error); // the colour stays as the placeholder
  }
}

function displayName(media) {
  if (media.title) return media.title;
  const path = new URL(fileUrl(media)).pathname;
  return decodeURIComponent(path.slice(path.lastIndexOf("/") + 1));
}

export class Gallery {
  constructor({ grid, more, count, template }, { onDelete }) {
    this.grid = grid;
    this.more = more;
    this.count = count;
    this.template = template;
    this.onDelete = onDelete;
    this.next = null;
    this.api = null;
    more.addEventListener("click", () => this.loadMore());
  }

  /** The first page again; the old cards stay until the new ones are there. */
  async refresh(api) {
    this.api = api;
    await this.load(`/api/v2/media/?limit=${PAGE_SIZE}&offset=0`, { replace: true });
  }

  async loadMore() {
    if (this.next) await this.load(this.next, { replace: false });
  }

  async load(pageUrl, { replace }) {
    const page = await this.api.listMedia(pageUrl);
    const cards = page.results.map((media) => this.card(media));
    if (replace) this.grid.replaceChildren(...cards);
    else this.grid.append(...cards);
    this.next = page.next;
    this.more.hidden = !page.next;
    this.count.textContent = `(${page.count})`;
  }

  card(media) {
    const card = this.template.content.firstElementChild.cloneNode(true);
    card.dataset.mediaId = media.id;
    card.dataset.type = media.type;
    const link = card.querySelector("a.open");
    link.href = fileUrl(media);
    const thumbnail = media.image_thumbnail?.url ?? media.image;
    const image = card.querySelector("img");
    if (thumbnail) {
      const renditions = media.image_renditions ?? [];
      if (renditions.length) {
        image.srcset = renditions.map((r) => `${r.url} ${r.width}w`).join(", ");
        image.sizes = CARD_SIZES;
      }
      image.src = thumbnail;
      image.alt = displayName(media);
      if (media.image_thumbnail) image.style.backgroundColor = media.image_thumbnail.color;
      if (media.image_blurhash) paintBlurhash(image, media.image_blurhash);
    } else {
      const placeholder = document.createElement("div");
      placeholder.className = "placeholder";
      placeholder.textContent = media.mimetype === "application/pdf" ? "PDF" : media.type;
      image.replaceWith(placeholder);
    }
    card.querySelector(".name").textContent = displayName(media);
    const sized = media.image_width && media.image_height;
    card.querySelector(".dims").textContent = sized
      ? `${media.image_width} × ${media.image_height}`
      : "";
    card.querySelector(".meta").textContent = `${media.mimetype} · ${formatBytes(media.size)}`;
    card.querySelector(".delete").addEventListener("click", () => this.onDelete(media, card));
    return card;
  }
}
