// The verdict region of the agent page: one verdict at a time, cleared after a while, and
// never an answer that arrived too late for the card it was about.
//
// It shows what it is given and keeps only what is on screen (in memory); nothing is stored.

import { needsComparison, showsHolder, titleKey, verdictOf } from "./verdicts.js";

const $ = (id) => document.getElementById(id);
const DETAILS = ["d-name", "d-birth", "d-issuer", "d-expires", "d-number", "d-checked"];

/** A birth or expiry date ("2029-12-05..."), in `lang`, as written on a card. */
export function formatDate(iso, lang) {
  const [y, m, d] = iso.slice(0, 10).split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(lang, { dateStyle: "long", timeZone: "UTC" }).format(date);
}

export function formatDateTime(iso, lang) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(date);
}

export class VerdictScreen {
  /**
   * text(key, vars): a page string in the current language; language(): that language;
   * results(): the result messages in it; clearSeconds: how long a verdict stays;
   * signals: sound and vibration; onClear({done}): what else goes when the verdict goes
   * (done: no other check or message replaces it, the screen is waiting for the next card).
   */
  constructor({ text, language, results, clearSeconds, signals, onClear }) {
    Object.assign(this, { text, language, results, clearSeconds, signals, onClear });
    this.shown = null; // {answer, offline, hint} while a verdict is on screen
    this.clearAt = 0;
    this.timer = null;
    // Each check gets a number; clearing the screen or starting another check makes older
    // answers stale, so a slow answer can never land on the next person's screen.
    this.seq = 0;
  }

  set(kind, title, message) {
    $("verdict").dataset.verdict = kind;
    $("verdict-title").textContent = title;
    $("verdict-message").textContent = message;
  }

  idle() {
    this.set("idle", this.text("ready"), this.text("ready_hint"));
    for (const id of ["verdict-details", "verdict-compare", "verdict-offline", "verdict-footer"]) {
      $(id).hidden = true;
    }
  }

  /** A check starts: the previous card's details go first. Returns the check's number. */
  begin() {
    this.clear({ done: false });
    this.set("checking", this.text("checking"), "");
    return ++this.seq;
  }

  /** Run `show` only if check `id` is still the one the screen is waiting for. */
  settle(id, show) {
    if (id === this.seq) show();
  }

  /** A problem is not a verdict about the card: say what to do, keep the frame neutral. */
  problem(key) {
    this.clear({ done: false });
    this.set("idle", this.text(key), this.text("ready_hint"));
  }

  /** A photo in which no code could be read: the unreadable verdict, with what to do. */
  unreadable(hint) {
    this.clear({ done: false });
    this.render({ result: "malformed", valid: false, holder: null }, false, { hint });
  }

  /** What the verdict says under its title. `hint`: a page string that replaces it. */
  message(result, offline, hint) {
    if (hint) return this.text(hint);
    if (result === "malformed") return this.text("unreadable_hint");
    // Offline it is this device's clock that is in doubt, not the server's.
    if (result === "clock_in_doubt" && offline) return this.text("clock_in_doubt_device");
    return this.results()[result] ?? "";
  }

  render(answer, offline, { keepTimer = false, hint = null } = {}) {
    const kind = verdictOf(answer.result);
    const lang = this.language();
    this.shown = { answer, offline, hint };
    this.set(kind, this.text(titleKey(answer.result)), this.message(answer.result, offline, hint));
    $("verdict").dataset.result = answer.result;
    const { holder, issuer, card } = answer;
    if (holder && showsHolder(answer.result)) {
      $("d-name").textContent = holder.name;
      $("d-birth").textContent = holder.birth_date
        ? formatDate(holder.birth_date, lang)
        : this.text("not_given");
      $("d-issuer").textContent = issuer ? issuer.name || issuer.code : "—";
      $("d-expires").textContent = card ? formatDate(card.expires, lang) : "—";
      $("d-number").textContent = card ? card.number : "—";
      $("d-checked").textContent = formatDateTime(answer.status_checked_at, lang);
      $("verdict-details").hidden = false;
    } else {
      $("verdict-details").hidden = true;
    }
    $("verdict-compare").hidden = !needsComparison(answer.result);
    $("verdict-offline").hidden = !offline;
    $("verdict-footer").hidden = false;
    if (keepTimer) {
      this.tick();
      return;
    }
    this.startCountdown();
    this.signals.play(kind);
    const box = $("verdict").getBoundingClientRect();
    if (box.top < 0 || box.top > window.innerHeight / 2) {
      $("verdict").scrollIntoView({ block: "start", behavior: "smooth" });
    }
  }

  /** The same verdict again, in the language just chosen. */
  refresh() {
    if (!this.shown) {
      this.idle();
      return;
    }
    const { answer, offline, hint } = this.shown;
    this.render(answer, offline, { keepTimer: true, hint });
  }

  startCountdown() {
    clearInterval(this.timer);
    this.clearAt = Date.now() + this.clearSeconds * 1000;
    this.timer = setInterval(() => this.tick(), 250);
    this.tick();
  }

  tick() {
    const left = Math.ceil((this.clearAt - Date.now()) / 1000);
    if (left <= 0) {
      this.clear();
      return;
    }
    // No-break spaces around the number: "20 s." never ends up alone on a line.
    const label = this.text("clears_in", { seconds: String(left) }).replace(/\s*\d+\s*/, (run) =>
      run.replace(/\s/g, "\u00a0"),
    );
    if ($("countdown").textContent !== label) $("countdown").textContent = label;
  }

  clear({ done = true } = {}) {
    this.seq++;
    clearInterval(this.timer);
    this.timer = null;
    this.shown = null;
    for (const id of DETAILS) $(id).textContent = "";
    delete $("verdict").dataset.result;
    this.idle();
    this.onClear({ done });
  }
}
