// The grid of the caller's media, newest first, from GET /api/v2/media/ one
// page at a time (DRF's limit/offset: count, next, previous, results). Every
// text the user chose (a file name) goes in with textContent, never as HTML.
// A card opens its file (the image, or the PDF in a new tab) and copies its URL.

import { formatBytes } from "./messages.js";
import { decode as decodeBlurhash } from "./vendor/blurhash.js";

export const PAGE_SIZE = 24;
// the card's picture is 100% of a grid column: about 320 px wide, a phone's full width
const CARD_SIZES = "(max-width: 640px) 100vw, 320px";

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

/** What a card says about the file's extent: an image's pixel size, a PDF's pages. */
export function extent(media) {
  if (media.type === "doc") {
    if (media.page_count == null) return "PDF";
    return media.page_count === 1 ? "1 page" : `${media.page_count} pages`;
  }
  return media.image_width && media.image_height
    ? `${media.image_width} × ${media.image_height}`
    : "";
}

/** The card's picture: the thumbnail (or the preview), or a placeholder without one.
 * Kept in this one function so that responsive sources can be added here alone. */
export function thumbnailImage(media, name) {
  const source = media.image_thumbnail?.url ?? media.image;
  if (!source) {
    const placeholder = document.createElement("span");
    placeholder.className = "placeholder";
    placeholder.textContent = media.type === "doc" ? "PDF" : media.type;
    return placeholder;
  }
  const image = document.createElement("img");
  image.src = source;
  image.alt = "";
  image.loading = "lazy";
  image.decoding = "async";
  if (media.image_thumbnail) image.style.backgroundColor = media.image_thumbnail.color;
  const renditions = media.image_renditions ?? [];
  if (renditions.length) {
    image.srcset = renditions.map((r) => `${r.url} ${r.width}w`).join(", ");
    image.sizes = CARD_SIZES;
  }
  if (media.image_blurhash) paintBlurhash(image, media.image_blurhash);
  image.dataset.name = name;
  return image;
}

/** Put `text` on the clipboard; where the Clipboard API is not allowed, the old way. */
async function copyText(text) {
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // not allowed here (an insecure origin, a denied permission): the fallback below
    }
  }
  const field = document.createElement("textarea");
  field.value = text;
  field.setAttribute("readonly", "");
  field.className = "offscreen";
  document.body.append(field);
  field.select();
  const copied = document.execCommand("copy");
  field.remove();
  if (!copied) throw new Error("The browser did not allow copying.");
}

export class Gallery {
  constructor({ grid, more, count, template, status }, { onDelete }) {
    this.grid = grid;
    this.more = more;
    this.count = count;
    this.template = template;
    this.status = status;
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
    const name = displayName(media);
    const url = fileUrl(media);
    card.dataset.mediaId = media.id;
    card.dataset.type = media.type;
    const link = card.querySelector("a.open");
    link.href = url;
    link.setAttribute(
      "aria-label",
      media.type === "doc" ? `Open ${name} (PDF, new tab)` : `Open ${name} (image, new tab)`,
    );
    link.append(thumbnailImage(media, name));
    card.querySelector(".name").textContent = name;
    card.querySelector(".dims").textContent = extent(media);
    card.querySelector(".meta").textContent = `${media.mimetype} · ${formatBytes(media.size)}`;
    const copy = card.querySelector(".copy");
    copy.setAttribute("aria-label", `Copy link to ${name}`);
    copy.addEventListener("click", () =>
      copyText(url).then(
        () => this.say(`Link to ${name} copied.`),
        (error) => this.say(`Could not copy the link: ${error.message}`),
      ),
    );
    const remove = card.querySelector(".delete");
    remove.setAttribute("aria-label", `Delete ${name}`);
    remove.addEventListener("click", () => this.onDelete(media, card));
    return card;
  }

  say(text) {
    this.status.textContent = text;
  }
}
