// Which upload a local file belongs to, kept in localStorage so that an upload
// survives a page reload: the user picks the same file again (same name, size
// and modification time) and only the bytes the server lacks are sent.

export class ResumeStore {
  constructor(apiBase, storage = window.localStorage) {
    this.apiBase = apiBase;
    this.storage = storage;
  }

  key(file) {
    return `chunkup:upload:${this.apiBase}:${file.name}:${file.size}:${file.lastModified}`;
  }

  get(file) {
    return this.storage.getItem(this.key(file));
  }

  remember(file, uploadId) {
    this.storage.setItem(this.key(file), uploadId);
  }

  forget(file) {
    this.storage.removeItem(this.key(file));
  }
}
