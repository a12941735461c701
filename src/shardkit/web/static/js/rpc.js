// MessagePack-RPC over the web process's WebSocket bridge (docs/protocol.md, "Browsers: the
// WebSocket bridge"): one link per cluster server, one binary WebSocket message per RPC message.

import { decode, encode } from "./msgpack.js";

const CALL_TIMEOUT_MS = 30000;

/** An error answer from a server (``code`` for programs, ``message`` for people). */
export class RpcError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

/** "host:port" as the bridge's ``target`` wants it (IPv6 in brackets). */
export function targetOf(host, port) {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** One bridge session: its token is kept for every link after the first. */
export class Bridge {
  constructor(url = Bridge.defaultUrl()) {
    this.url = url;
    this.session = null;
  }

  static defaultUrl() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/ws`;
  }

  /** A link to ``target`` ("master" or "host:port" a server handed out). */
  open(target, handlers = {}) {
    const query = new URLSearchParams({ target });
    if (this.session) query.set("session", this.session);
    const link = new Link(`${this.url}?${query}`, handlers);
    return link.ready.then((notice) => {
      this.session = notice.session;
      return link;
    });
  }
}

/** One WebSocket of the bridge: calls, notifications, and the server's notifications. */
export class Link {
  constructor(url, handlers) {
    this.handlers = handlers;  // method name -> function(...params); also onClose(code, reason)
    this.pending = new Map();
    this.nextId = 1;
    this.closed = false;
    this.ws = new WebSocket(url);
    this.ws.binaryType = "arraybuffer";
    this.ready = new Promise((resolve, reject) => {
      this.ws.onmessage = (event) => {
        if (typeof event.data === "string") {  // the bridge's notice comes first
          this.notice = JSON.parse(event.data);
          resolve(this.notice);
        } else this.received(new Uint8Array(event.data));
      };
      this.ws.onclose = (event) => {
        this.closed = true;
        const reason = event.reason || `connection closed (${event.code})`;
        reject(new RpcError("closed", reason));
        for (const { reject: fail, timer } of this.pending.values()) {
          clearTimeout(timer);
          fail(new RpcError("closed", reason));
        }
        this.pending.clear();
        if (this.handlers.onClose) this.handlers.onClose(event.code, reason);
      };
    });
  }

  call(method, ...params) {
    if (this.closed) return Promise.reject(new RpcError("closed", "the connection is closed"));
    const id = this.nextId++;
    this.ws.send(encode([0, id, method, params]));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RpcError("timeout", `${method}: no answer in time`));
      }, CALL_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  notify(method, ...params) {
    if (!this.closed) this.ws.send(encode([2, method, params]));
  }

  close() {
    this.closed = true;
    this.ws.close(1000, "done");
  }

  received(data) {
    let message;
    try {
      message = decode(data);
    } catch (error) {
      console.warn("undecodable message from the server", error);
      return;
    }
    if (!Array.isArray(message)) return;
    if (message[0] === 1) {
      const [, id, error, result] = message;
      const waiting = this.pending.get(id);
      if (!waiting) return;
      this.pending.delete(id);
      clearTimeout(waiting.timer);
      if (error === null || error === undefined) waiting.resolve(result);
      else waiting.reject(new RpcError(String(error.code), String(error.message)));
    } else if (message[0] === 2) {
      const [, method, params] = message;
      const handler = Object.hasOwn(this.handlers, method) ? this.handlers[method] : null;
      if (typeof handler === "function" && Array.isArray(params)) handler(...params);
    }
  }
}
