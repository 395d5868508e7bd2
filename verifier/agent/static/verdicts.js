// The four verdicts an agent acts on, from the API's result codes (verifier/verification.py).
//
// - valid: genuine and in force; the agent still compares the card and the person.
// - invalid: a fact about the card (revoked, suspended, expired, withdrawn key, false
//   signature), with its reason.
// - unknown: the card may be fine, but this device cannot tell now (status not checked
//   recently, a city it does not know, a clock it cannot trust, a card dated in the future).
// - unreadable: what was read is not a card code at all. A truncated scan, a stray character
//   or another QR code is a misread, not a forgery: neutral, and the scanner stays ready.
//
// No DOM here: tests/js/ runs it under node.

const KIND_OF = {
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

const TITLE_OF = {
  valid: "verdict_valid",
  bad_signature: "verdict_forged",
  status_unknown: "verdict_unknown",
  unknown_issuer: "verdict_unknown_issuer",
  not_yet_valid: "verdict_not_yet_valid",
  clock_in_doubt: "verdict_clock",
  malformed: "verdict_unreadable",
};

export const VERDICTS = ["valid", "invalid", "unknown", "unreadable"];

/** The verdict for a result code; a code this page does not know yet is never "valid". */
export function verdictOf(result) {
  return Object.hasOwn(KIND_OF, result) ? KIND_OF[result] : "unknown";
}

/** The page string key of the verdict's title. */
export function titleKey(result) {
  if (Object.hasOwn(TITLE_OF, result)) return TITLE_OF[result];
  return verdictOf(result) === "invalid" ? "verdict_invalid" : "verdict_unknown";
}

/** Whether the holder's details and the compare checklist belong on screen. */
export const showsHolder = (result) => verdictOf(result) !== "unreadable";
export const needsComparison = (result) => result === "valid";
