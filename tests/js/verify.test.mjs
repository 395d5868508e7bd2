// Unit tests of the agent page's offline verifier (verifier/agent/static/verify.js) under
// node's own test runner:  node --test tests/js/
//
// Every card-format vector (tests/vectors/cards.json) must get the code the vector expects
// when its keys are trusted. The end-to-end parity test (tests/e2e/verifier/) then holds the
// same code, in Chromium, to the server's answers.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { deflateSync } from "node:zlib";

import {
  b64urlDecode,
  base45Decode,
  inflate,
  statusAt,
  decodeCbor,
  encodeCbor,
  formatCardNumber,
  loadSnapshot,
  verifyCard,
} from "../../verifier/agent/static/verify.js";

const doc = JSON.parse(
  readFileSync(new URL("../vectors/cards.json", import.meta.url), "utf8"),
);
const b64url = (bytes) => Buffer.from(bytes).toString("base64url");
const hexBytes = (hex) => Uint8Array.from(Buffer.from(hex, "hex"));
const SIZE = 131072;

// A snapshot trusting the vectors' keys, with an all-valid status list issued at `listedAt`.
function snapshotFor(listedAt, statuses = new Uint8Array(SIZE / 4)) {
  const issuers = new Map();
  for (const key of doc.keys) {
    if (!issuers.has(key.issuer)) {
      issuers.set(key.issuer, {
        code: key.issuer,
        name: { en: key.issuer_name },
        keys: [],
        status_list_size: SIZE,
        status_lists: [
          {
            id: 0,
            bits: 2,
            lst: b64url(deflateSync(statuses)),
            issued_at: listedAt,
            expires_at: null,
            fetched_at: listedAt,
          },
        ],
      });
    }
    issuers.get(key.issuer).keys.push({
      kid: b64url(hexBytes(key.kid)),
      public_key: b64url(hexBytes(key.public_key)),
      state: key.state,
      retired_at: key.retired_at,
      not_before: key.not_before,
      not_after: key.not_after,
    });
  }
  return { generated_at: listedAt, max_status_age_seconds: 7 * 86400, issuers: [...issuers.values()] };
}

const seconds = (iso) => Date.parse(iso) / 1000;

test("every card-format vector gets its expected result", async () => {
  const trust = await loadSnapshot(snapshotFor("2026-06-01T11:00:00Z"));
  for (const vector of doc.vectors) {
    const answer = await verifyCard(vector.text, trust, { now: seconds(vector.now) });
    if (vector.expected === "valid") {
      // The card verifies (its status, read from a list that may be stale or absent at the
      // vector's instant, is the business of the status-decision vectors below).
      assert.notEqual(answer.holder, null, vector.name);
      assert.ok(["valid", "status_unknown"].includes(answer.result), vector.name);
      assert.equal(answer.holder.name, vector.claims.holder_name, vector.name);
      assert.equal(answer.holder.birth_date, vector.claims.birth_date, vector.name);
      assert.equal(answer.card.number, vector.claims.number, vector.name);
      assert.equal(answer.card.expires, vector.claims.expires_at, vector.name);
    } else {
      assert.equal(answer.result, vector.expected, vector.name);
      assert.equal(answer.holder, null, vector.name);
    }
  }
});

test("status list: revoked, suspended, stale and unknown values", async () => {
  const valid = doc.vectors.find((v) => v.name === "valid card");
  const index = valid.claims.status_index;
  const cases = [
    [1, "revoked"],
    [2, "suspended"],
    [3, "status_unknown"],
    [0, "valid"],
  ];
  for (const [status, expected] of cases) {
    const statuses = new Uint8Array(SIZE / 4);
    // 2 bits per entry, least significant bits first (Token Status List draft).
    statuses[index >> 2] = status << ((index & 3) * 2);
    const trust = await loadSnapshot(snapshotFor("2026-06-01T11:00:00Z", statuses));
    const answer = await verifyCard(valid.text, trust, { now: seconds(valid.now) });
    assert.equal(answer.result, expected, `status ${status}`);
    assert.equal(answer.status_checked_at, "2026-06-01T11:00:00Z");
  }
  const stale = await loadSnapshot(snapshotFor("2026-05-01T11:00:00Z"));
  const answer = await verifyCard(valid.text, stale, { now: seconds(valid.now) });
  assert.equal(answer.result, "status_unknown");
  assert.equal(answer.holder.name, valid.claims.holder_name);
});

const standards = (name) =>
  JSON.parse(readFileSync(new URL(`../vectors/standards/${name}`, import.meta.url), "utf8"));

test("base45: RFC 9285 examples, strictly", () => {
  const rfc = standards("base45.json");
  for (const { bytes_utf8, base45 } of [...rfc.encode, ...rfc.decode]) {
    assert.equal(Buffer.from(base45Decode(base45)).toString("utf8"), bytes_utf8);
  }
  for (const text of rfc.invalid) {
    assert.throws(() => base45Decode(text), { code: "malformed" }, text);
  }
  assert.throws(() => base45Decode("a1"), { code: "malformed" });
});

test("status lists: the Token Status List draft's vectors", async () => {
  const draft = standards("token-status-list/vectors.json");
  assert.ok(draft.vectors.length >= 4);
  for (const vector of draft.vectors) {
    const data = await inflate(b64urlDecode(vector.json.lst));
    assert.equal(data.length, (draft.size * vector.bits) / 8);
    let set = 0;
    for (let i = 0; i < draft.size; i++) {
      const expected = vector.statuses[String(i)] ?? 0;
      assert.equal(statusAt(data, vector.bits, i), expected, `bits ${vector.bits} index ${i}`);
      if (expected) set++;
    }
    assert.equal(set, Object.values(vector.statuses).filter((v) => v).length);
    assert.equal(statusAt(data, vector.bits, draft.size), null);
  }
});

test("CBOR: shortest forms only, no indefinite lengths, no duplicate keys", () => {
  assert.equal(decodeCbor(hexBytes("1817")).canonical, false);
  assert.equal(decodeCbor(hexBytes("1818")).canonical, true);
  assert.equal(decodeCbor(hexBytes("0100")).canonical, false); // trailing byte
  assert.equal(decodeCbor(hexBytes("f93c00")).canonical, false); // half float re-encodes long
  assert.throws(() => decodeCbor(hexBytes("9f01ff")), { code: "malformed" });
  assert.throws(() => decodeCbor(hexBytes("a201010102")), { code: "malformed" });
  assert.throws(() => decodeCbor(hexBytes("62c328")), { code: "malformed" }); // bad UTF-8
  assert.deepEqual(decodeCbor(hexBytes("3a00010000")).value, -65537);
  const map = new Map([[1, "FR SXB"], [-65537, [1, "x", null, 2]]]);
  assert.deepEqual(decodeCbor(encodeCbor(map)), { value: map, canonical: true });
});

test("card numbers format with their check symbol, as cardformat.numbers does", () => {
  // Expected values computed with cardformat.numbers.format_card_number.
  assert.equal(formatCardNumber(134292293), "4028-T56");
  assert.equal(formatCardNumber(0), "0000-000");
  assert.equal(formatCardNumber(2 ** 30 - 1), "ZZZZ-ZZ6");
  assert.equal(formatCardNumber(123456789), "3NQK-8N1");
});
