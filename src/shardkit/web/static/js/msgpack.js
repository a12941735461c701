// A small MessagePack encoder and decoder (https://github.com/msgpack/msgpack/blob/master/spec.md)
// for the cluster's MessagePack-RPC messages: nil, booleans, integers, float64, str, bin
// (Uint8Array), arrays and maps with string keys. No extension types: the protocol uses none.

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

class Writer {
  constructor() {
    this.buffer = new Uint8Array(256);
    this.view = new DataView(this.buffer.buffer);
    this.length = 0;
  }

  room(n) {
    if (this.length + n <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + n) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.buffer.subarray(0, this.length));
    this.buffer = bigger;
    this.view = new DataView(bigger.buffer);
  }

  byte(b) { this.room(1); this.buffer[this.length++] = b; }
  u16(v) { this.room(2); this.view.setUint16(this.length, v); this.length += 2; }
  u32(v) { this.room(4); this.view.setUint32(this.length, v); this.length += 4; }
  bytes(data) { this.room(data.length); this.buffer.set(data, this.length); this.length += data.length; }

  value(v) {
    if (v === null || v === undefined) this.byte(0xc0);
    else if (v === false) this.byte(0xc2);
    else if (v === true) this.byte(0xc3);
    else if (typeof v === "number") this.number(v);
    else if (typeof v === "string") this.string(v);
    else if (v instanceof Uint8Array) this.binary(v);
    else if (Array.isArray(v)) {
      this.header(v.length, 0x90, 0xdc);
      for (const item of v) this.value(item);
    } else if (typeof v === "object") {
      const keys = Object.keys(v);
      this.header(keys.length, 0x80, 0xde);
      for (const key of keys) { this.string(key); this.value(v[key]); }
    } else throw new TypeError(`cannot encode a ${typeof v} as MessagePack`);
  }

  header(n, fix, code16) {  // array or map length: fix form, 16 or 32 bits
    if (n < 16) this.byte(fix | n);
    else if (n < 0x10000) { this.byte(code16); this.u16(n); }
    else { this.byte(code16 + 1); this.u32(n); }
  }

  number(v) {
    if (!Number.isSafeInteger(v)) {  // a fraction (or a huge number): float64
      this.byte(0xcb); this.room(8); this.view.setFloat64(this.length, v); this.length += 8;
    } else if (v >= 0) {
      if (v < 128) this.byte(v);
      else if (v < 0x100) { this.byte(0xcc); this.byte(v); }
      else if (v < 0x10000) { this.byte(0xcd); this.u16(v); }
      else if (v < 0x100000000) { this.byte(0xce); this.u32(v); }
      else { this.byte(0xcf); this.room(8); this.view.setBigUint64(this.length, BigInt(v)); this.length += 8; }
    } else {
      if (v >= -32) this.byte(v & 0xff);
      else if (v >= -0x80) { this.byte(0xd0); this.room(1); this.view.setInt8(this.length++, v); }
      else if (v >= -0x8000) { this.byte(0xd1); this.room(2); this.view.setInt16(this.length, v); this.length += 2; }
      else if (v >= -0x80000000) { this.byte(0xd2); this.room(4); this.view.setInt32(this.length, v); this.length += 4; }
      else { this.byte(0xd3); this.room(8); this.view.setBigInt64(this.length, BigInt(v)); this.length += 8; }
    }
  }

  string(s) {
    const data = textEncoder.encode(s);
    const n = data.length;
    if (n < 32) this.byte(0xa0 | n);
    else if (n < 0x100) { this.byte(0xd9); this.byte(n); }
    else if (n < 0x10000) { this.byte(0xda); this.u16(n); }
    else { this.byte(0xdb); this.u32(n); }
    this.bytes(data);
  }

  binary(data) {
    const n = data.length;
    if (n < 0x100) { this.byte(0xc4); this.byte(n); }
    else if (n < 0x10000) { this.byte(0xc5); this.u16(n); }
    else { this.byte(0xc6); this.u32(n); }
    this.bytes(data);
  }
}

/** One value as MessagePack bytes. */
export function encode(value) {
  const writer = new Writer();
  writer.value(value);
  return writer.buffer.slice(0, writer.length);
}

class Reader {
  constructor(data) {
    this.data = data;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.at = 0;
  }

  take(n) {
    if (this.at + n > this.data.length) throw new RangeError("MessagePack data cut short");
    const start = this.at;
    this.at += n;
    return start;
  }

  u8() { return this.data[this.take(1)]; }
  u16() { return this.view.getUint16(this.take(2)); }
  u32() { return this.view.getUint32(this.take(4)); }
  str(n) { const s = this.take(n); return textDecoder.decode(this.data.subarray(s, s + n)); }
  bin(n) { const s = this.take(n); return this.data.slice(s, s + n); }
  array(n) { const out = new Array(n); for (let i = 0; i < n; i++) out[i] = this.value(); return out; }

  map(n) {
    const out = {};
    for (let i = 0; i < n; i++) {
      const key = this.value();
      if (typeof key !== "string") throw new TypeError("map keys must be strings");
      out[key] = this.value();
    }
    return out;
  }

  value() {
    const code = this.u8();
    if (code < 0x80) return code;
    if (code < 0x90) return this.map(code & 0x0f);
    if (code < 0xa0) return this.array(code & 0x0f);
    if (code < 0xc0) return this.str(code & 0x1f);
    if (code >= 0xe0) return code - 0x100;
    const v = this.view;
    switch (code) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return this.bin(this.u8());
      case 0xc5: return this.bin(this.u16());
      case 0xc6: return this.bin(this.u32());
      case 0xca: return v.getFloat32(this.take(4));
      case 0xcb: return v.getFloat64(this.take(8));
      case 0xcc: return this.u8();
      case 0xcd: return this.u16();
      case 0xce: return this.u32();
      case 0xcf: return Number(v.getBigUint64(this.take(8)));
      case 0xd0: return v.getInt8(this.take(1));
      case 0xd1: return v.getInt16(this.take(2));
      case 0xd2: return v.getInt32(this.take(4));
      case 0xd3: return Number(v.getBigInt64(this.take(8)));
      case 0xd9: return this.str(this.u8());
      case 0xda: return this.str(this.u16());
      case 0xdb: return this.str(this.u32());
      case 0xdc: return this.array(this.u16());
      case 0xdd: return this.array(this.u32());
      case 0xde: return this.map(this.u16());
      case 0xdf: return this.map(this.u32());
      default: throw new TypeError(`MessagePack type 0x${code.toString(16)} is not used here`);
    }
  }
}

/** The one value in ``data`` (a Uint8Array); anything after it is an error. */
export function decode(data) {
  const reader = new Reader(data);
  const value = reader.value();
  if (reader.at !== data.length) throw new RangeError("bytes after the MessagePack value");
  return value;
}
