// The grid of the caller's media, newest first, from GET /api/v2/media/ one
// page at a time (DRF's limit/offset: count, next, previous, results). Every
// text the user chose (a file name) goes in with textContent, never as HTML.

export const PAGE_SIZE = 24;

function formatBytes(size) {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(0)} KB`;
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

function fileUrl(media) {
  return media.type === "doc" ? media.url : media.image;
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
      image.src = thumbnail;
      image.alt = displayName(media);
      if (media.image_thumbnail) image.style.backgroundColor = media.image_thumbnail.color;
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
