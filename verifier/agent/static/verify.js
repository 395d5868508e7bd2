// In-browser verification of a card, for when the agent's device has no network.
//
// This is a second implementation of cardformat.token.verify_card (the reference, in Python)
// plus the verifier's status-list step, over a snapshot of the trust store
// (GET /api/v1/trust-snapshot). It must reach the same result code as the server for every
// input: tests/e2e/verifier/test_parity.py runs every card-format vector through both. So the
// checks below run in the reference's order, and every structural oddity the reference refuses
// is refused here with the same code.
//
// No DOM access here: the module also runs under node's test runner (tests/js/).

const PREFIX = "MC1:";
const MAX_TEXT_LENGTH = 512;
const MAX_NAME_BYTES = 100;
const MAX_STATUS_INDEX = 2 ** 32 - 1;
const CLOCK_SKEW_SECONDS = 5 * 60;
const MAX_DEPTH = 16;
const KID_LENGTH = 8;
const SIGNATURE_LENGTH = 64;
// Ed25519's field prime, and the y coordinates of its eight points of small order (as
// cardformat/keys.py): a signature whose R is one of them is refused, as libsodium does.
const FIELD_PRIME = 2n ** 255n - 19n;
const Y_ORDER_8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
const SMALL_ORDER_Y = new Set([1n, FIELD_PRIME - 1n, 0n, Y_ORDER_8, FIELD_PRIME - Y_ORDER_8]);
const ALG_EDDSA = -8;
const TAG_SIGN1 = 18;
const TAG_EPOCH_DAYS = 100;
const CLAIM_ISS = 1;
const CLAIM_EXP = 4;
const CLAIM_IAT = 6;
const CLAIM_CARD = -65537;
// docs/card-format.md section 3: every NumericDate is at most 2^32 - 1, and a birth date lies
// from 0001-01-01 to 9999-12-31 (in days since 1970-01-01).
const MAX_NUMERIC_DATE = 2 ** 32 - 1;
const MIN_EPOCH_DAY = -719162;
const MAX_EPOCH_DAY = 2932896;
const CARD_NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CARD_NUMBER_MAX = 32 ** 6 - 1;
const ISSUER_CODE = /^[A-Z]{2} [A-Z2-9]{3}$/;
const BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
// Tags the reference's CBOR library turns into other objects (dates, big numbers, sets...):
// re-encoding them never gives the same bytes back, so they are never canonical. Tag 100 is
// handled where the format allows it (the birth date).
const SEMANTIC_TAGS = new Set([
  0, 1, 2, 3, 4, 5, 25, 28, 29, 30, 35, 36, 37, 38, 52, 54, 256, 258, 260, 261, 1004, 55799,
]);
// Python's str.strip() and str.isspace(): the reference refuses names that start or end with
// any of these, which is not the same set as JavaScript's trim().
const PY_SPACE = new Set(
  "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006" +
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000",
);
// As cardformat.token: C0 and C1 controls, surrogates, private use, line and paragraph
// separators, bidi embeddings, overrides, isolates and marks. Unassigned code points are
// allowed on purpose: which ones are unassigned depends on the Unicode version.
const FORBIDDEN_IN_NAME =
  /[\x00-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\u{f0000}-\u{10ffff}\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/** A verification failure carrying its result code, like cardformat's typed errors. */
export class CardError extends Error {
  constructor(code, detail) {
    super(detail);
    this.code = code;
  }
}

const malformed = (detail) => new CardError("malformed", detail);

// ---------------------------------------------------------------------------------- base45

const B45_VALUES = new Int16Array(128).fill(-1);
for (let i = 0; i < BASE45.length; i++) B45_VALUES[BASE45.charCodeAt(i)] = i;

export function base45Decode(text) {
  const values = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? B45_VALUES[code] : -1;
    if (value < 0) throw malformed("base45 text holds a character outside the alphabet");
    values[i] = value;
  }
  const chunks = Math.floor(values.length / 3);
  const rest = values.length % 3;
  if (rest === 1) throw malformed("base45 text has an impossible length");
  const out = new Uint8Array(chunks * 2 + (rest === 2 ? 1 : 0));
  for (let c = 0; c < chunks; c++) {
    const n = values[3 * c] + 45 * values[3 * c + 1] + 2025 * values[3 * c + 2];
    if (n > 0xffff) throw malformed("base45 chunk value out of range");
    out[2 * c] = n >> 8;
    out[2 * c + 1] = n & 0xff;
  }
  if (rest === 2) {
    const n = values[3 * chunks] + 45 * values[3 * chunks + 1];
    if (n > 0xff) throw malformed("base45 final pair value out of range");
    out[out.length - 1] = n;
  }
  return out;
}

// ------------------------------------------------------------------------------------ CBOR
//
// A strict decoder. Besides the value, it reports whether the reference would re-encode the
// item to exactly the same bytes (`canonical`): the reference decodes, re-encodes and compares,
// and refuses any difference, so a non-minimal length or a half-precision float must be
// refused here at the same step.

export class Tag {
  constructor(tag, value) {
    this.tag = tag;
    this.value = value;
  }
}

/** A CBOR simple value other than false, true, null and undefined. */
export class Simple {
  constructor(value) {
    this.value = value;
  }
}

/** A birth date: days since 1970-01-01 (RFC 8943). */
export class EpochDays {
  constructor(days) {
    this.days = days;
  }
  toISOString() {
    return new Date(this.days * 86400000).toISOString().slice(0, 10);
  }
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const UTF8_ENCODER = new TextEncoder();

class Decoder {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
    this.canonical = true;
  }

  need(n) {
    if (this.pos + n > this.bytes.length) throw malformed("CBOR ends early");
  }

  // The argument of a head: a number, or a BigInt when it does not fit in 2^53.
  argument(info) {
    if (info < 24) return info;
    let value;
    if (info === 24) {
      this.need(1);
      value = this.bytes[this.pos];
      this.pos += 1;
      if (value < 24) this.canonical = false;
    } else if (info === 25) {
      this.need(2);
      value = this.view.getUint16(this.pos);
      this.pos += 2;
      if (value <= 0xff) this.canonical = false;
    } else if (info === 26) {
      this.need(4);
      value = this.view.getUint32(this.pos);
      this.pos += 4;
      if (value <= 0xffff) this.canonical = false;
    } else if (info === 27) {
      this.need(8);
      const big = this.view.getBigUint64(this.pos);
      this.pos += 8;
      if (big <= 0xffffffffn) this.canonical = false;
      value = big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
    } else {
      // 28-30 are reserved, 31 is an indefinite length: the reference refuses both.
      throw malformed("indefinite or reserved CBOR length");
    }
    return value;
  }

  length(info) {
    const n = this.argument(info);
    if (typeof n !== "number" || n > this.bytes.length - this.pos) {
      throw malformed("CBOR length beyond the data");
    }
    return n;
  }

  item(depth) {
    if (depth > MAX_DEPTH) throw malformed("CBOR nested too deeply");
    this.need(1);
    const head = this.bytes[this.pos];
    this.pos += 1;
    const major = head >> 5;
    const info = head & 0x1f;
    switch (major) {
      case 0:
        return this.argument(info);
      case 1: {
        const n = this.argument(info);
        return typeof n === "bigint" || n >= Number.MAX_SAFE_INTEGER ? -1n - BigInt(n) : -1 - n;
      }
      case 2: {
        const n = this.length(info);
        const out = this.bytes.slice(this.pos, this.pos + n);
        this.pos += n;
        return out;
      }
      case 3: {
        const n = this.length(info);
        let text;
        try {
          text = UTF8.decode(this.bytes.subarray(this.pos, this.pos + n));
        } catch {
          throw malformed("CBOR text is not UTF-8");
        }
        this.pos += n;
        return text;
      }
      case 4: {
        const n = this.length(info);
        const out = [];
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5: {
        const n = this.length(info);
        const out = new Map();
        const seen = new Set();
        for (let i = 0; i < n; i++) {
          const start = this.pos;
          const key = this.item(depth + 1);
          // Keys compare by their encoding; the format's keys are all small integers.
          const id = Array.from(this.bytes.subarray(start, this.pos)).join(",");
          if (seen.has(id)) throw malformed("CBOR map with a duplicate key");
          seen.add(id);
          out.set(key, this.item(depth + 1));
        }
        return out;
      }
      case 6: {
        const tag = this.argument(info);
        if (tag === TAG_EPOCH_DAYS) {
          const days = this.item(depth + 1);
          if (typeof days !== "number" || !Number.isInteger(days)) {
            throw malformed("a tag 100 date holds an integer");
          }
          if (days < MIN_EPOCH_DAY || days > MAX_EPOCH_DAY) throw malformed("date out of range");
          // The reference re-encodes a date as tag 1004, so outside the claims (which are
          // checked by re-encoding them as the format says) a tag 100 is never canonical.
          this.canonical = false;
          return new EpochDays(days);
        }
        if (typeof tag !== "number" || SEMANTIC_TAGS.has(tag)) this.canonical = false;
        return new Tag(tag, this.item(depth + 1));
      }
      default:
        return this.simple(info);
    }
  }

  simple(info) {
    if (info < 20) return new Simple(info);
    if (info === 20) return false;
    if (info === 21) return true;
    if (info === 22) return null;
    if (info === 23) return undefined;
    if (info === 24) {
      this.need(1);
      const value = this.bytes[this.pos];
      this.pos += 1;
      if (value < 32) throw malformed("invalid CBOR simple value");
      return new Simple(value);
    }
    if (info === 25 || info === 26 || info === 27) {
      const size = { 25: 2, 26: 4, 27: 8 }[info];
      this.need(size);
      let value;
      if (size === 2) value = halfToNumber(this.view.getUint16(this.pos));
      else if (size === 4) value = this.view.getFloat32(this.pos);
      else value = this.view.getFloat64(this.pos);
      const bits = size === 2 ? this.view.getUint16(this.pos) : null;
      this.pos += size;
      // The reference writes every float as a double, except NaN and the infinities, which
      // it writes as half floats.
      if (Number.isNaN(value) || !Number.isFinite(value)) {
        if (size !== 2 || (Number.isNaN(value) && bits !== 0x7e00)) this.canonical = false;
      } else if (size !== 8) {
        this.canonical = false;
      }
      return value;
    }
    throw malformed("indefinite or reserved CBOR item");
  }
}

function halfToNumber(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Decode one CBOR item; `canonical` says whether the bytes are its one deterministic form. */
export function decodeCbor(bytes) {
  const decoder = new Decoder(bytes);
  const value = decoder.item(0);
  return { value, canonical: decoder.canonical && decoder.pos === bytes.length };
}

// A minimal deterministic encoder for what the format signs and re-checks: unsigned and
// negative integers, byte and text strings, arrays, maps with integer keys, tag 100, null.
class Encoder {
  constructor() {
    this.parts = [];
    this.size = 0;
  }

  push(bytes) {
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  head(major, n) {
    const m = major << 5;
    if (typeof n === "bigint" || n > 0xffffffff) {
      const out = new Uint8Array(9);
      out[0] = m | 27;
      new DataView(out.buffer).setBigUint64(1, BigInt(n));
      this.push(out);
    } else if (n < 24) this.push(Uint8Array.of(m | n));
    else if (n <= 0xff) this.push(Uint8Array.of(m | 24, n));
    else if (n <= 0xffff) this.push(Uint8Array.of(m | 25, n >> 8, n & 0xff));
    else this.push(Uint8Array.of(m | 26, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff));
  }

  encode(value) {
    if (value === null) this.push(Uint8Array.of(0xf6));
    else if (typeof value === "bigint") {
      if (value >= 0n) this.head(0, value);
      else this.head(1, -1n - value);
    } else if (typeof value === "number") {
      if (value >= 0) this.head(0, value);
      else this.head(1, -1 - value);
    } else if (value instanceof Uint8Array) {
      this.head(2, value.length);
      this.push(value);
    } else if (typeof value === "string") {
      const bytes = UTF8_ENCODER.encode(value);
      this.head(3, bytes.length);
      this.push(bytes);
    } else if (Array.isArray(value)) {
      this.head(4, value.length);
      for (const item of value) this.encode(item);
    } else if (value instanceof Map) {
      this.head(5, value.size);
      for (const [k, v] of value) {
        this.encode(k);
        this.encode(v);
      }
    } else if (value instanceof EpochDays) {
      this.head(6, TAG_EPOCH_DAYS);
      this.encode(value.days);
    } else {
      throw new TypeError("cannot encode this value");
    }
  }

  bytes() {
    const out = new Uint8Array(this.size);
    let offset = 0;
    for (const part of this.parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}

export function encodeCbor(value) {
  const encoder = new Encoder();
  encoder.encode(value);
  return encoder.bytes();
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ------------------------------------------------------------------------------ the token

const isUint = (v) => (typeof v === "number" && Number.isInteger(v) && v >= 0) ||
  (typeof v === "bigint" && v >= 0n);

function decodeText(text) {
  if (typeof text !== "string") throw malformed("a card token is text");
  if (text.length > MAX_TEXT_LENGTH) throw malformed("the text is too long to be a card");
  if (!text.startsWith(PREFIX)) throw malformed('a card token starts with "MC1:"');
  return base45Decode(text.slice(PREFIX.length));
}

function decodeSign1(data) {
  const { value, canonical } = decodeCbor(data);
  if (!(value instanceof Tag) || value.tag !== TAG_SIGN1) {
    throw malformed("not a COSE_Sign1 object (CBOR tag 18)");
  }
  const parts = value.value;
  if (!Array.isArray(parts) || parts.length !== 4) {
    throw malformed("COSE_Sign1 is an array of four items");
  }
  const [protectedBytes, unprotected, payload, signature] = parts;
  if (
    !(protectedBytes instanceof Uint8Array) ||
    !(unprotected instanceof Map) ||
    !(payload instanceof Uint8Array) ||
    !(signature instanceof Uint8Array)
  ) {
    throw malformed("COSE_Sign1 items have the wrong types");
  }
  // Like the reference, which decodes the header with a decoder that ignores trailing bytes:
  // its exact bytes are compared with the profile's later, in readHeader.
  const header = protectedBytes.length ? decodeCbor(protectedBytes).value : new Map();
  if (!(header instanceof Map)) throw malformed("the protected header is not a map");
  if (!canonical) throw malformed("COSE_Sign1 is not in deterministic encoding");
  return { protectedBytes, header, unprotected, payload, signature };
}

// The protected header of a card in its one valid encoding: {1: -8, 4: h'<8-byte kid>'}.
const CARD_HEADER_START = Uint8Array.of(0xa2, 0x01, 0x27, 0x04, 0x48);

function readHeader(message) {
  const keys = [...message.header.keys()];
  if (keys.length !== 2 || !keys.includes(1) || !keys.includes(4)) {
    throw malformed("unexpected protected headers");
  }
  if (message.unprotected.size) throw malformed("the unprotected header must be empty");
  if (message.header.get(1) !== ALG_EDDSA) {
    throw new CardError("bad_signature", "the token is not signed with EdDSA");
  }
  const kid = message.header.get(4);
  if (!(kid instanceof Uint8Array) || kid.length !== KID_LENGTH) {
    throw malformed("the key id is 8 bytes");
  }
  const profile = new Uint8Array(CARD_HEADER_START.length + KID_LENGTH);
  profile.set(CARD_HEADER_START);
  profile.set(kid, CARD_HEADER_START.length);
  if (!equalBytes(message.protectedBytes, profile)) {
    throw malformed("the protected header is not in deterministic encoding");
  }
  return kid;
}

function validateHolderName(name) {
  const chars = [...name];
  let start = 0;
  let end = chars.length;
  while (start < end && PY_SPACE.has(chars[start])) start++;
  while (end > start && PY_SPACE.has(chars[end - 1])) end--;
  if (start === end) throw malformed("the holder name is empty");
  if (start !== 0 || end !== chars.length) {
    throw malformed("the holder name starts or ends with a space");
  }
  if (UTF8_ENCODER.encode(name).length > MAX_NAME_BYTES) {
    throw malformed("the holder name is too long");
  }
  if (FORBIDDEN_IN_NAME.test(name)) {
    throw malformed("the holder name holds a forbidden character");
  }
}

export function formatCardNumber(value) {
  let symbols = "";
  for (let i = 0; i < 6; i++) {
    symbols = CARD_NUMBER_ALPHABET[value % 32] + symbols;
    value = Math.floor(value / 32);
  }
  let total = 0;
  let factor = 2;
  for (let i = symbols.length - 1; i >= 0; i--) {
    const addend = factor * CARD_NUMBER_ALPHABET.indexOf(symbols[i]);
    total += Math.floor(addend / 32) + (addend % 32);
    factor = 3 - factor;
  }
  const full = symbols + CARD_NUMBER_ALPHABET[(32 - (total % 32)) % 32];
  return `${full.slice(0, 4)}-${full.slice(4)}`;
}

function parseClaims(payload) {
  const { value: claims } = decodeCbor(payload);
  if (!(claims instanceof Map) || claims.size !== 4) {
    throw malformed("the card's claims are not the v1 claims set");
  }
  for (const key of [CLAIM_ISS, CLAIM_EXP, CLAIM_IAT, CLAIM_CARD]) {
    if (!claims.has(key)) throw malformed("the card's claims are not the v1 claims set");
  }
  const issuer = claims.get(CLAIM_ISS);
  const iat = claims.get(CLAIM_IAT);
  const exp = claims.get(CLAIM_EXP);
  const body = claims.get(CLAIM_CARD);
  if (!Array.isArray(body) || body.length !== 4) {
    throw malformed("the card claim is an array of four items");
  }
  const [number, name, birth, index] = body;
  if (!(isUint(iat) && isUint(exp) && isUint(number) && isUint(index))) {
    throw malformed("the card's numbers have the wrong types");
  }
  if (typeof issuer !== "string" || !ISSUER_CODE.test(issuer)) {
    throw malformed("the issuer code is not a UN/LOCODE");
  }
  if (birth !== null && !(birth instanceof EpochDays)) {
    throw malformed("the birth date is not a date");
  }
  if (typeof name !== "string") throw malformed("the holder name is not text");
  validateHolderName(name);
  if (name.normalize("NFC") !== name) throw malformed("the holder name is not in Unicode NFC");
  // BigInt comparisons work for both number and bigint operands.
  if (BigInt(exp) <= BigInt(iat) || BigInt(index) > BigInt(MAX_STATUS_INDEX)) {
    throw malformed("the card's validity or status index is out of range");
  }
  if (typeof number !== "number" || number > CARD_NUMBER_MAX) {
    throw malformed("card number out of range");
  }
  const expected = encodeCbor(
    new Map([
      [CLAIM_ISS, issuer],
      [CLAIM_EXP, exp],
      [CLAIM_IAT, iat],
      [CLAIM_CARD, [number, name, birth, index]],
    ]),
  );
  if (!equalBytes(expected, payload)) {
    throw malformed("the card's claims are not in deterministic encoding");
  }
  if (typeof iat !== "number" || typeof exp !== "number" || exp > MAX_NUMERIC_DATE) {
    throw malformed("the card's dates are out of range");
  }
  return {
    issuer,
    issuedAt: iat,
    expiresAt: exp,
    card: {
      number: formatCardNumber(number),
      holderName: name,
      birthDate: birth === null ? null : birth.toISOString(),
      statusIndex: index,
    },
  };
}

// -------------------------------------------------------------------------- the trust store

export function b64urlDecode(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
  const binary = atob(padded);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

export async function inflate(bytes) {
  // zlib format (RFC 1950), which DecompressionStream calls "deflate".
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const parseTime = (text) => (text ? Date.parse(text) / 1000 : null);

/**
 * Prepare a trust snapshot (the JSON of GET /api/v1/trust-snapshot) for verification: import
 * every key once and inflate every status list once, so verifying a card does neither.
 */
export async function loadSnapshot(snapshot) {
  const keys = new Map();
  const issuers = new Map();
  for (const issuer of snapshot.issuers || []) {
    const lists = new Map();
    for (const list of issuer.status_lists || []) {
      try {
        lists.set(list.id, {
          bits: list.bits,
          data: await inflate(b64urlDecode(list.lst)),
          issuedAt: parseTime(list.issued_at),
          expiresAt: parseTime(list.expires_at),
        });
      } catch {
        // A damaged list is as good as none: its cards come out status_unknown.
      }
    }
    issuers.set(issuer.code, {
      code: issuer.code,
      names: issuer.name || {},
      statusListSize: issuer.status_list_size,
      lists,
    });
    for (const key of issuer.keys || []) {
      const raw = b64urlDecode(key.public_key);
      let cryptoKey = null;
      try {
        cryptoKey = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, [
          "verify",
        ]);
      } catch {
        continue; // not a valid Ed25519 key: as if it were not published
      }
      keys.set(hex(b64urlDecode(key.kid)), {
        issuer: issuer.code,
        key: cryptoKey,
        state: key.state,
        // As cardformat's trusted_keys(): the retirement time only bounds a retired key.
        retiredAt: key.state === "retired" ? parseTime(key.retired_at) : null,
        notBefore: parseTime(key.not_before),
        notAfter: parseTime(key.not_after),
      });
    }
  }
  return {
    generatedAt: parseTime(snapshot.generated_at),
    generatedAtText: snapshot.generated_at || null,
    maxStatusAge: snapshot.max_status_age_seconds,
    keys,
    issuers,
  };
}

/** The issuer's name as the server picks it: the agent's language, the default, English. */
export function issuerName(names, lang, defaultLang, fallback) {
  for (const candidate of [lang, defaultLang, "en"]) {
    if (names && Object.hasOwn(names, candidate)) return names[candidate];
  }
  const first = names ? Object.values(names)[0] : undefined;
  return first === undefined ? fallback : first;
}

// ------------------------------------------------------------------------------- verify

/** Whether 32 bytes encode a point of small order, canonically or not (sign bit ignored). */
function isSmallOrderPoint(encoded) {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? encoded[i] & 0x7f : encoded[i]);
  return SMALL_ORDER_Y.has(y % FIELD_PRIME);
}

async function verifyToken(text, trust, now) {
  const message = decodeSign1(decodeText(text));
  const kid = readHeader(message);
  const key = trust.keys.get(hex(kid));
  if (!key) throw new CardError("unknown_issuer", "no trusted issuer has this card's key");
  if (message.signature.length !== SIGNATURE_LENGTH) {
    throw new CardError("bad_signature", "an Ed25519 signature is 64 bytes");
  }
  if (isSmallOrderPoint(message.signature.subarray(0, 32))) {
    throw new CardError("bad_signature", "the signature's R is a point of small order");
  }
  const toBeSigned = encodeCbor(["Signature1", message.protectedBytes, new Uint8Array(0),
    message.payload]);
  const ok = await crypto.subtle.verify({ name: "Ed25519" }, key.key, message.signature,
    toBeSigned);
  if (!ok) throw new CardError("bad_signature", "the signature does not verify");
  const claims = parseClaims(message.payload);
  if (claims.issuer !== key.issuer) {
    throw new CardError("bad_signature", "the card names another issuer than its key");
  }
  if (key.state === "revoked") throw new CardError("key_revoked", "the key is revoked");
  if (key.retiredAt !== null && claims.issuedAt > key.retiredAt) {
    throw new CardError("key_revoked", "the card was signed after its key was retired");
  }
  // The key's own validity (nbf, exp in the issuer metadata) bounds when it may sign.
  if (key.notBefore !== null && claims.issuedAt < key.notBefore) {
    throw new CardError("key_revoked", "the card was signed before its key's validity");
  }
  if (key.notAfter !== null && claims.issuedAt >= key.notAfter) {
    throw new CardError("key_revoked", "the card was signed after its key's validity");
  }
  if (now + CLOCK_SKEW_SECONDS < claims.issuedAt) {
    throw new CardError("not_yet_valid", "the card is not valid yet");
  }
  if (now >= claims.expiresAt) throw new CardError("expired", "the card has expired");
  return claims;
}

/**
 * The card's status from its issuer's last verified status list, exactly as the server's
 * verification service reads it: `status_checked_at` is the list's issued-at time (when the
 * issuer vouched for it), and a list older than the policy's maximum age, or past its own
 * expiry, gives status_unknown rather than a silent "valid".
 */
function readStatus(claims, trust, now) {
  const issuer = trust.issuers.get(claims.issuer);
  const size = issuer && issuer.statusListSize;
  if (!size) return { result: "status_unknown", checkedAt: null };
  const index = claims.card.statusIndex;
  const list = issuer.lists.get(Math.floor(index / size));
  if (!list || list.issuedAt === null) return { result: "status_unknown", checkedAt: null };
  const checkedAt = list.issuedAt;
  const stale =
    now - list.issuedAt > trust.maxStatusAge || (list.expiresAt !== null && now >= list.expiresAt);
  if (stale) return { result: "status_unknown", checkedAt };
  const status = statusAt(list.data, list.bits, index % size);
  if (status === null) return { result: "status_unknown", checkedAt };
  // Value 3 has no meaning in this profile: refuse to guess, as the server does.
  const result = { 0: "valid", 1: "revoked", 2: "suspended" }[status] || "status_unknown";
  return { result, checkedAt };
}

/**
 * Entry `position` of a status list: `bits` per entry, packed least significant bit first
 * (draft-ietf-oauth-status-list); null beyond the end of the list.
 */
export function statusAt(data, bits, position) {
  const offset = position * bits;
  const byte = data[offset >> 3];
  if (byte === undefined) return null;
  return (byte >> (offset & 7)) & ((1 << bits) - 1);
}

const isoSeconds = (seconds) => new Date(seconds * 1000).toISOString().replace(".000Z", "Z");

/**
 * Verify a card's text against a prepared trust snapshot, at `now` (seconds since 1970; the
 * device clock by default). Answers with the same keys as POST /api/v1/verify, without
 * `message`, which the page fills in the agent's language.
 */
export async function verifyCard(
  text,
  trust,
  { now = Date.now() / 1000, lang = "en", defaultLang = "en" } = {},
) {
  const answer = {
    result: "malformed",
    valid: false,
    issuer: null,
    card: null,
    holder: null,
    status_checked_at: null,
  };
  let claims;
  try {
    claims = await verifyToken(text, trust, now);
  } catch (error) {
    if (!(error instanceof CardError)) throw error;
    answer.result = error.code;
    return answer;
  }
  const status = readStatus(claims, trust, now);
  const issuer = trust.issuers.get(claims.issuer);
  answer.result = status.result;
  answer.valid = status.result === "valid";
  answer.issuer = {
    code: claims.issuer,
    name: issuerName(issuer && issuer.names, lang, defaultLang, claims.issuer),
  };
  answer.card = { number: claims.card.number, expires: isoSeconds(claims.expiresAt) };
  answer.holder = { name: claims.card.holderName, birth_date: claims.card.birthDate };
  answer.status_checked_at = status.checkedAt === null ? null : isoSeconds(status.checkedAt);
  return answer;
}
