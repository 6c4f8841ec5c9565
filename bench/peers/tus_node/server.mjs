// @tus/server as its README mounts it on node:http, storing to local disk (@tus/file-store).
// Started by bench/run.py: PORT and TUS_FILES_DIR from the environment.
import http from "node:http";
import { Server } from "@tus/server";
import { FileStore } from "@tus/file-store";

const tus = new Server({
  path: "/files",
  datastore: new FileStore({ directory: process.env.TUS_FILES_DIR || "/tmp/tus-node-files" }),
});
http
  .createServer((req, res) => tus.handle(req, res))
  .listen(Number(process.env.PORT), "127.0.0.1");
