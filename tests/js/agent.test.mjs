// Unit tests of the agent page's small modules (verdicts, wedge scanner bursts, freshness and
// the clock rule) under node's own test runner:  node --test tests/js/
import assert from "node:assert/strict";
import { test } from "node:test";

import { clockFloor, relativeAge, statusesFetchedAt } from "../../verifier/agent/static/freshness.js";
import { needsComparison, titleKey, verdictOf, VERDICTS } from "../../verifier/agent/static/verdicts.js";
import { CLOCK_SKEW_SECONDS, clockInDoubt } from "../../verifier/agent/static/verify.js";
import { IDLE_MS, watchWedge } from "../../verifier/agent/static/wedge.js";

test("every result code maps to one of the four verdicts", () => {
  const expected = {
    valid: "valid",
    revoked: "invalid",
    suspended: "invalid",
    expired: "invalid",
    key_revoked: "invalid",
    bad_signature: "invalid",
    status_unknown: "unknown",
    unknown_issuer: "unknown",
    not_yet_valid: "unknown",
    clock_in_doubt: "unknown",
    malformed: "unreadable",
  };
  for (const [result, verdict] of Object.entries(expected)) {
    assert.equal(verdictOf(result), verdict, result);
    assert.ok(VERDICTS.includes(verdictOf(result)));
  }
  // A code from a newer server is never taken for valid; nor is a prototype key.
  assert.equal(verdictOf("something_new"), "unknown");
  assert.equal(verdictOf("toString"), "unknown");
  assert.equal(titleKey("revoked"), "verdict_invalid");
  assert.equal(titleKey("bad_signature"), "verdict_forged");
  assert.equal(titleKey("malformed"), "verdict_unreadable");
  assert.equal(titleKey("clock_in_doubt"), "verdict_clock");
  assert.ok(needsComparison("valid"));
  assert.ok(!needsComparison("status_unknown"));
});

test("the clock is in doubt before the trust data's fetch, beyond the skew", () => {
  const fetched = 1_800_000_000;
  assert.equal(clockInDoubt(fetched, fetched), false);
  assert.equal(clockInDoubt(fetched - CLOCK_SKEW_SECONDS, fetched), false);
  assert.equal(clockInDoubt(fetched - CLOCK_SKEW_SECONDS - 1, fetched), true);
  assert.equal(clockInDoubt(0, fetched), true); // a device reset to 1970
  assert.equal(clockInDoubt(Number.NaN, fetched), true);
  assert.equal(clockInDoubt(fetched, null), false); // nothing known: nothing to compare
});

test("freshness: the clock's floor and the statuses' age", () => {
  const lists = (times) => new Map(times.map((t, i) => [i, { fetchedAt: t }]));
  const trust = {
    generatedAt: 300,
    fetchedUntil: 250,
    issuers: new Map([
      ["FR SXB", { lists: lists([200, 240]) }],
      ["ES BCN", { lists: lists([180]) }],
    ]),
  };
  assert.equal(clockFloor(trust), 300);
  assert.equal(clockFloor(null), null);
  assert.equal(statusesFetchedAt(trust), 180); // the oldest list
  assert.equal(statusesFetchedAt({ generatedAt: 5, issuers: new Map() }), 5);
  assert.equal(relativeAge(130, "en"), "2 minutes ago");
  assert.equal(relativeAge(3 * 86400, "fr"), "il y a 3 jours");
});

/** A stand-in for the text field: the only things watchWedge uses. */
class FakeInput extends EventTarget {
  value = "";
  type(text, inputType = "insertText") {
    this.value += text;
    const event = new Event("input");
    event.inputType = inputType;
    this.dispatchEvent(event);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test("wedge: a fast burst without Enter is submitted after a pause; typing is not", async () => {
  let clock = 0;
  const input = new FakeInput();
  let scans = 0;
  const wedge = watchWedge(input, () => scans++, { now: () => clock });
  for (const ch of "MC1:6BFOXN*TS0BI$ZD") {
    clock += 5; // a scanner: 5 ms a character
    input.type(ch);
  }
  await sleep(IDLE_MS + 50);
  assert.equal(scans, 1);

  input.value = "";
  wedge.reset();
  for (const ch of "MC1:6BFOXN") {
    clock += 180; // a person
    input.type(ch);
  }
  await sleep(IDLE_MS + 50);
  assert.equal(scans, 1);

  input.value = "";
  wedge.reset();
  input.type("MC1:6BFOXN*TS0BI", "insertFromPaste");
  wedge.reset(); // Enter came first: nothing more fires
  await sleep(IDLE_MS + 50);
  assert.equal(scans, 1);
});
