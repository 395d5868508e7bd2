// The agent page's offline verifier (verifier/agent/static/verify.js) as a conformance-kit
// command (docs/conformance.md), for the kinds it implements: "card" and "status".
//
//   python -m cardformat.conformance --kind card --kind status -- \
//       node tests/integration/conformance/verify_js_adapter.mjs
//
// The page verifies against a trust snapshot (GET /api/v1/trust-snapshot); this builds one from
// the vector's context: its keys, and for "status" its lists and maximum age.
import { readFileSync } from "node:fs";

import { loadSnapshot, verifyCard } from "../../../verifier/agent/static/verify.js";

const b64url = (hex) => Buffer.from(hex, "hex").toString("base64url");

function snapshotFor(context) {
  const issuers = new Map();
  for (const key of context.keys) {
    if (!issuers.has(key.issuer)) {
      issuers.set(key.issuer, {
        code: key.issuer,
        name: { en: key.issuer_name },
        keys: [],
        status_list_size: context.status_list_size ?? 131072,
        status_lists: context.status_lists ?? [],
      });
    }
    issuers.get(key.issuer).keys.push({
      kid: b64url(key.kid),
      public_key: b64url(key.public_key),
      state: key.state,
      retired_at: key.retired_at,
      not_before: key.not_before,
      not_after: key.not_after,
    });
  }
  return {
    generated_at: context.now,
    max_status_age_seconds: context.max_status_age_seconds ?? 7 * 86400,
    issuers: [...issuers.values()],
  };
}

const kind = process.env.CITYCARD_KIND;
const context = JSON.parse(readFileSync(process.env.CITYCARD_CONTEXT, "utf8"));
if (kind !== "card" && kind !== "status") {
  console.log("unsupported");
} else {
  const text = readFileSync(0, "utf8");
  const trust = await loadSnapshot(snapshotFor(context));
  const answer = await verifyCard(text, trust, { now: Date.parse(context.now) / 1000 });
  // For "card" only the verification counts: a card that verified is "valid" whatever its
  // status (answer.holder is set exactly when it verified).
  console.log(kind === "card" && answer.holder !== null ? "valid" : answer.result);
}
