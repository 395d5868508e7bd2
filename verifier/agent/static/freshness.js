// How fresh the page's trust data is, and how far this device's clock can be believed.
// No DOM here.

/**
 * The earliest time (seconds) this device's clock may plausibly read: when its trust snapshot
 * was made and when the server last fetched what is in it. A clock reading earlier has been
 * set back (or reset) and cannot judge expiry or staleness (verify.js, clockInDoubt).
 */
export function clockFloor(trust) {
  if (!trust) return null;
  const known = [trust.fetchedUntil, trust.generatedAt].filter((t) => Number.isFinite(t));
  return known.length ? Math.max(...known) : null;
}

/**
 * When the card statuses on this page were last fetched by the server (seconds): the oldest
 * list's fetch, since a card's status is only as fresh as its own list.
 */
export function statusesFetchedAt(trust) {
  let oldest = null;
  for (const issuer of trust.issuers.values()) {
    for (const list of issuer.lists.values()) {
      if (list.fetchedAt !== null && (oldest === null || list.fetchedAt < oldest)) {
        oldest = list.fetchedAt;
      }
    }
  }
  return oldest ?? trust.generatedAt;
}

/** "20 seconds ago", "3 minutes ago", "yesterday"... in `lang`, by the browser. */
export function relativeAge(seconds, lang) {
  const format = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
  if (seconds < 60) return format.format(-Math.round(seconds / 10) * 10, "second");
  if (seconds < 3600) return format.format(-Math.floor(seconds / 60), "minute");
  if (seconds < 86400) return format.format(-Math.floor(seconds / 3600), "hour");
  return format.format(-Math.floor(seconds / 86400), "day");
}
