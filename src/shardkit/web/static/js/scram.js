// SCRAM-SHA-256 (RFC 5802 / RFC 7677) in the browser with the Web Crypto API, as
// docs/protocol.md "Player registration" and "Player login" describe: the password never
// leaves this page, not even at registration. Web Crypto needs a secure context: https, or
// http on localhost / 127.0.0.1.

const utf8 = new TextEncoder();

function subtle() {
  if (!globalThis.crypto || !crypto.subtle) {
    throw new Error("this page needs https (or localhost) for the browser's crypto functions");
  }
  return crypto.subtle;
}

export function toBase64(bytes) {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

export function fromBase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function fromHex(text) {
  return Uint8Array.from(text.match(/../g) || [], (pair) => parseInt(pair, 16));
}

export function randomBytes(n) {
  return crypto.getRandomValues(new Uint8Array(n));
}

// SASLprep's mapping (RFC 4013), as the Python client's scramp does it: characters "commonly
// mapped to nothing" (stringprep B.1) dropped, non-ASCII spaces (C.1.2) made spaces, then NFKC.
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200B-\u200D\u2060\uFE00-\uFE0F\uFEFF]/g;
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g;

/** What SCRAM hashes for a password: its SASLprep form. */
export function saslprep(password) {
  return password.replace(MAPPED_TO_NOTHING, "").replace(NON_ASCII_SPACE, " ").normalize("NFKC");
}

function passwordBytes(password) {
  return utf8.encode(saslprep(password));
}

export async function saltedPassword(password, salt, iterations) {
  const key = await subtle().importKey("raw", passwordBytes(password), "PBKDF2", false,
                                       ["deriveBits"]);
  const bits = await subtle().deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations },
                                         key, 256);
  return new Uint8Array(bits);
}

export async function hmac(keyBytes, message) {
  const key = await subtle().importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" },
                                       false, ["sign"]);
  const data = typeof message === "string" ? utf8.encode(message) : message;
  return new Uint8Array(await subtle().sign("HMAC", key, data));
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle().digest("SHA-256", bytes));
}

function xor(a, b) {
  return a.map((byte, i) => byte ^ b[i]);
}

/** A verifier for ``register``: only this leaves the browser. */
export async function makeVerifier(password, iterations, salt = randomBytes(32)) {
  const salted = await saltedPassword(password, salt, iterations);
  const storedKey = await sha256(await hmac(salted, "Client Key"));
  const serverKey = await hmac(salted, "Server Key");
  return { salt, storedKey, serverKey, iterations, salted };
}

function attributes(message) {
  const out = {};
  for (const part of message.split(",")) {
    const at = part.indexOf("=");
    if (at === 1) out[part[0]] = part.slice(2);
  }
  return out;
}

/** One login: ``first()`` for login_start, ``final(serverFirst)`` for login_finish, then
 * ``verify(serverFinal)`` proves the master holds the verifier. */
export class ScramClient {
  constructor(username, password, nonce = toHex(randomBytes(16))) {
    this.username = username.replaceAll("=", "=3D").replaceAll(",", "=2C");
    this.password = password;
    this.nonce = nonce;
    this.serverSignature = null;
  }

  bare() {
    return `n=${this.username},r=${this.nonce}`;
  }

  first() {
    return `n,,${this.bare()}`;
  }

  async final(serverFirst) {
    const { r: nonce, s: salt, i: iterations } = attributes(serverFirst);
    const rounds = Number(iterations);
    if (!nonce || !nonce.startsWith(this.nonce) || nonce.length <= this.nonce.length) {
      throw new Error("the server's nonce does not extend ours");
    }
    if (!salt || !Number.isInteger(rounds) || rounds < 1) {
      throw new Error("the server sent no salt or iteration count");
    }
    const salted = await saltedPassword(this.password, fromBase64(salt), rounds);
    const clientKey = await hmac(salted, "Client Key");
    const storedKey = await sha256(clientKey);
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.bare()},${serverFirst},${withoutProof}`;
    const proof = xor(clientKey, await hmac(storedKey, authMessage));
    this.serverSignature = await hmac(await hmac(salted, "Server Key"), authMessage);
    return `${withoutProof},p=${toBase64(proof)}`;
  }

  verify(serverFinal) {
    const { v } = attributes(serverFinal);
    if (!this.serverSignature || v !== toBase64(this.serverSignature)) {
      throw new Error("the server could not prove it knows the account");
    }
  }
}
