// The agent page: three ways to read a card, one verdict, nothing kept.
//
// Online the server verifies (it is the reference); with no network the page verifies itself
// against the trust snapshot the service worker keeps (verify.js). The verdict clears itself
// after a short time so the next person at a shared device sees nothing, and no card text,
// name or result is ever stored: not in localStorage, not in a cache, not in a log.
//
// Verdicts are one of four (verdicts.js). The camera scans continuously: the next card
// replaces the verdict. With ?kiosk=1 (a device mounted at a desk) the camera starts by
// itself, nothing leads away from the page, and the language returns to the device's own
// after each card.

import { connectTorch, createFrameReader, openCamera } from "./capture.js";
import { clockFloor, relativeAge, statusesFetchedAt } from "./freshness.js";
import { wireKiosk } from "./kiosk.js";
import { formatDateTime, VerdictScreen } from "./screen.js";
import { Signals } from "./signals.js";
import { clockInDoubt, loadSnapshot, verifyCard } from "./verify.js";
import { watchWedge } from "./wedge.js";

const $ = (id) => document.getElementById(id);
const STRINGS = JSON.parse($("agent-strings").textContent);
const CONFIG = JSON.parse($("agent-config").textContent);
const LANG_KEY = "citycard-agent-language"; // the only thing the page remembers
// The server syncs its partners every few seconds to minutes; the snapshot (revalidated with
// its ETag) follows it closely, so the status age shown is the server's.
const SNAPSHOT_REFRESH_MS = 30 * 1000;
const TRUST_AGE_TICK_MS = 5 * 1000;
const SERVER_TIMEOUT_MS = 8000;
const SCAN_INTERVAL_MS = 180;
// The same code seen again within this time is the same card still in view, not a new scan.
const REPEAT_AFTER_MS = 3000;
const KIOSK = new URLSearchParams(window.location.search).get("kiosk") === "1";

const state = {
  lang: CONFIG.defaultLanguage,
  trust: null, // the prepared trust snapshot, or null before the first successful load
  stream: null,
  releaseTorch: null,
  scanning: false,
  decoder: null,
  lastCode: null, // {text, at}: the code the camera last read, in memory only
  homeLang: null, // kiosk mode: the language the page returns to after each card
};

// ----------------------------------------------------------------------------- language

function text(key, vars = {}) {
  let value = (STRINGS[state.lang] || STRINGS.en)[key] ?? STRINGS.en[key] ?? key;
  for (const [name, v] of Object.entries(vars)) value = value.replace(`%(${name})s`, v);
  return value;
}

const signals = new Signals(safeStorage);
let wedge = null; // the scanner-burst watcher (wedge.js), once wired

function pickLanguage() {
  const stored = KIOSK ? null : safeStorage(() => localStorage.getItem(LANG_KEY));
  if (stored && STRINGS[stored]) return stored;
  for (const tag of navigator.languages || [navigator.language]) {
    const base = String(tag || "").toLowerCase().split("-")[0];
    if (STRINGS[base]) return base;
  }
  return STRINGS[document.documentElement.lang] ? document.documentElement.lang : "en";
}

function safeStorage(fn) {
  try {
    return fn();
  } catch {
    return null; // storage disabled (private mode, policy): the page still works
  }
}

function applyLanguage(lang) {
  state.lang = lang;
  const root = document.documentElement;
  root.lang = lang;
  root.dir = STRINGS[lang].dir;
  $("lang-select").value = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = text(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-aria]")) {
    el.setAttribute("aria-label", text(el.dataset.i18nAria));
  }
  $("camera-button-text").textContent = text(state.stream ? "camera_stop" : "camera_start");
  updateConnection();
  updateTrustAge();
  screen.refresh();
}

function clearInputs({ done }) {
  $("wedge-input").value = "";
  if (wedge) wedge.reset();
  $("photo-input").value = "";
  // Once a card is done with, a kiosk serves the next person in the device's own language.
  if (KIOSK && done && state.homeLang && state.lang !== state.homeLang) {
    applyLanguage(state.homeLang);
  }
}

const screen = new VerdictScreen({
  text,
  language: () => state.lang,
  results: () => ({ ...STRINGS.en.results, ...(STRINGS[state.lang].results || {}) }),
  clearSeconds: CONFIG.clearSeconds,
  signals,
  onClear: clearInputs,
});

// --------------------------------------------------------------------- trust snapshot

async function refreshSnapshot() {
  try {
    const response = await fetch(CONFIG.snapshotUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    state.trust = await loadSnapshot(await response.json());
  } catch {
    // No network and nothing cached yet: offline checks explain it when asked.
  }
  updateConnection();
  updateTrustAge();
}

function updateTrustAge() {
  const line = $("trust-age");
  const trust = state.trust;
  const fetched = trust ? statusesFetchedAt(trust) : null;
  if (fetched === null) {
    line.hidden = true;
    return;
  }
  const now = Date.now() / 1000;
  line.hidden = false;
  if (clockInDoubt(now, clockFloor(trust))) {
    line.dataset.clock = "doubt";
    delete line.dataset.ageSeconds;
    line.textContent = text("trust_age_clock");
    return;
  }
  delete line.dataset.clock;
  const age = Math.max(0, now - fetched);
  line.dataset.ageSeconds = String(Math.round(age));
  line.textContent = text("trust_age", { when: relativeAge(age, state.lang) });
}

function isOffline() {
  return navigator.onLine === false;
}

function updateConnection() {
  const line = $("connection");
  const offline = isOffline();
  line.dataset.state = offline ? "offline" : "online";
  let label = text("online");
  if (offline) {
    label = text("offline");
    if (state.trust && state.trust.generatedAtText) {
      const date = formatDateTime(state.trust.generatedAtText, state.lang);
      label += " " + text("offline_since", { date });
    } else if (!state.trust) {
      label = text("offline_no_data");
    }
  }
  $("connection-text").textContent = label;
}

// ------------------------------------------------------------------------ verifying

class NetworkError extends Error {}

async function postToServer(url, body, headers = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), SERVER_TIMEOUT_MS);
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      body,
      headers: { Accept: "application/json", "Accept-Language": state.lang, ...headers },
      signal: controller.signal,
      cache: "no-store",
      credentials: "same-origin",
    });
  } catch {
    throw new NetworkError("no answer from the server");
  } finally {
    clearTimeout(timer);
  }
  // A gateway or server failure is treated like no network: the device can still decide.
  if (response.status >= 500) throw new NetworkError(`server answered ${response.status}`);
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  return { status: response.status, data };
}

/** Verify on this device; `now` in seconds since 1970 (tests pass it), else the clock. */
async function verifyLocally(qr, { now } = {}) {
  if (!state.trust) return null;
  const started = performance.now();
  const answer = await verifyCard(qr, state.trust, {
    now,
    lang: state.lang,
    defaultLang: CONFIG.defaultLanguage,
    notBefore: clockFloor(state.trust),
  });
  window.citycardAgent.lastVerifyMs = performance.now() - started;
  return answer;
}

async function check(qr) {
  if (!qr) {
    screen.problem("empty_input");
    return;
  }
  const id = screen.begin();
  if (!isOffline()) {
    try {
      const { status, data } = await postToServer(CONFIG.verifyUrl, JSON.stringify({ qr }), {
        "Content-Type": "application/json",
      });
      screen.settle(id, () => {
        if (data && typeof data.result === "string") screen.render(data, false);
        else screen.problem(status === 429 ? "rate_limited" : "server_error");
      });
      return;
    } catch (error) {
      if (!(error instanceof NetworkError)) throw error;
    }
  }
  updateConnection();
  const answer = await verifyLocally(qr);
  screen.settle(id, () => {
    if (answer) screen.render(answer, true);
    else screen.problem("offline_no_data");
  });
}

// ------------------------------------------------------------------- QR decoding

async function zxing() {
  if (!state.decoder) {
    const module = await import("./vendor/zxing-wasm/reader/index.js");
    const wasmUrl = new URL("./vendor/zxing-wasm/reader/zxing_reader.wasm", import.meta.url);
    // Served by this app, never from the library's default CDN.
    module.prepareZXingModule({
      overrides: {
        locateFile: (path, prefix) => (path.endsWith(".wasm") ? wasmUrl.href : prefix + path),
      },
    });
    state.decoder = module;
  }
  return state.decoder;
}

const ZXING_OPTIONS = { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1 };

async function nativeDetector() {
  if (!("BarcodeDetector" in window)) return null;
  try {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    return formats.includes("qr_code") ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
  } catch {
    return null;
  }
}

async function decodeImageLocally(blob) {
  const reader = await zxing();
  const results = await reader.readBarcodes(blob, ZXING_OPTIONS);
  const found = results.find((r) => r.isValid && r.text);
  return found ? found.text : null;
}

// ------------------------------------------------------------------------- camera

async function startCamera() {
  const error = $("camera-error");
  error.hidden = true;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    error.textContent = text("camera_unavailable");
    error.hidden = false;
    return;
  }
  let camera;
  try {
    camera = await openCamera();
    state.stream = camera.stream;
  } catch (exc) {
    const denied = exc && (exc.name === "NotAllowedError" || exc.name === "SecurityError");
    error.textContent = text(denied ? "camera_denied" : "camera_unavailable");
    error.hidden = false;
    return;
  }
  const video = $("camera-video");
  video.srcObject = state.stream;
  $("camera-box").hidden = false;
  $("camera-button").setAttribute("aria-expanded", "true");
  $("camera-button-text").textContent = text("camera_stop");
  state.releaseTorch = connectTorch($("torch-button"), camera.track, camera.torch);
  await video.play().catch(() => {});
  state.scanning = true;
  scanLoop(await nativeDetector());
}

/** Whether the camera's code is a new scan, not the card still held in front of it. */
function isNewCode(text) {
  const now = performance.now();
  const last = state.lastCode;
  state.lastCode = { text, at: now };
  return !(last && last.text === text && now - last.at < REPEAT_AFTER_MS);
}

function stopCamera() {
  state.scanning = false;
  state.lastCode = null;
  if (state.releaseTorch) state.releaseTorch();
  state.releaseTorch = null;
  if (state.stream) for (const track of state.stream.getTracks()) track.stop();
  state.stream = null;
  $("camera-video").srcObject = null;
  $("camera-box").hidden = true;
  $("camera-button").setAttribute("aria-expanded", "false");
  $("camera-button-text").textContent = text("camera_start");
}

async function scanLoop(detector) {
  const video = $("camera-video");
  const reader = createFrameReader({ zxing, native: detector });
  while (state.scanning) {
    let found = null;
    if (video.readyState >= 2 && video.videoWidth) {
      try {
        const hit = await reader.read(video, video.videoWidth, video.videoHeight);
        found = hit ? hit.text : null;
      } catch {
        found = null; // a frame that cannot be read: try the next one
      }
    }
    if (found && state.scanning && isNewCode(found)) {
      // The camera stays on: the next card replaces this verdict (queues at a desk).
      await check(found);
    }
    await new Promise((resolve) => setTimeout(resolve, SCAN_INTERVAL_MS));
  }
}

// --------------------------------------------------------------------------- photo

async function checkPhoto(file) {
  if (!file) {
    screen.problem("empty_input");
    return;
  }
  if (CONFIG.maxImageBytes && file.size > CONFIG.maxImageBytes) {
    screen.problem("photo_too_large");
    return;
  }
  const id = screen.begin();
  if (!isOffline()) {
    const form = new FormData();
    form.append("photo", file);
    try {
      const { status, data } = await postToServer(CONFIG.decodeImageUrl, form);
      screen.settle(id, () => {
        if (data && typeof data.result === "string") screen.render(data, false);
        else if (status === 413) screen.problem("photo_too_large");
        else if (status === 429) screen.problem("rate_limited");
        else if (status === 422 || status === 400) screen.unreadable("no_code_in_photo");
        else screen.problem("server_error");
      });
      return;
    } catch (error) {
      if (!(error instanceof NetworkError)) throw error;
    }
  }
  let qr = null;
  try {
    qr = await decodeImageLocally(file);
  } catch {
    qr = null; // not an image the decoder can read
  }
  const answer = qr ? await verifyLocally(qr) : null;
  screen.settle(id, () => {
    if (!qr) screen.unreadable("no_code_in_photo");
    else if (answer) screen.render(answer, true);
    else screen.problem("offline_no_data");
  });
}

// ------------------------------------------------------------------------- wiring

function cleanScannerInput(value) {
  // Scanners end with Enter and may add a tab or line feed. Spaces are kept: base45 uses them,
  // a card's text may end with one.
  return value.replace(/^[\s]+/, "").replace(/[\r\n\t]+$/, "");
}

function takeWedgeInput() {
  const input = $("wedge-input");
  const qr = cleanScannerInput(input.value);
  input.value = ""; // the card's text does not stay on screen
  wedge.reset();
  return qr;
}

function wire() {
  $("lang-select").addEventListener("change", (event) => {
    const lang = event.target.value;
    if (!STRINGS[lang]) return;
    if (!KIOSK) safeStorage(() => localStorage.setItem(LANG_KEY, lang));
    applyLanguage(lang);
  });
  $("wedge-form").addEventListener("submit", (event) => {
    event.preventDefault();
    check(takeWedgeInput());
  });
  // A scanner that sends no Enter (or a Tab): the burst's pause submits it.
  wedge = watchWedge($("wedge-input"), () => {
    const qr = takeWedgeInput();
    if (qr) check(qr);
  });
  const toggle = $("signals-toggle");
  toggle.checked = signals.enabled;
  toggle.addEventListener("change", () => signals.setEnabled(toggle.checked));
  // Audio may start only after a gesture: the first key or touch unlocks it.
  for (const type of ["pointerdown", "keydown"]) {
    document.addEventListener(type, () => signals.unlock(), { capture: true });
  }
  $("photo-input").addEventListener("change", (event) => {
    const input = event.target;
    if (input.files && input.files[0]) checkPhoto(input.files[0]);
  });
  $("camera-button").addEventListener("click", () => (state.stream ? stopCamera() : startCamera()));
  $("clear-button").addEventListener("click", () => {
    screen.clear();
    focusScanner();
  });
  window.addEventListener("online", () => {
    updateConnection();
    refreshSnapshot();
  });
  window.addEventListener("offline", updateConnection);
  // A phone put away or a tab switched: nothing stays on screen for the next person.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") {
      screen.clear();
      stopCamera();
    } else if (KIOSK) {
      startKioskCamera();
    }
  });
  setInterval(() => {
    if (!isOffline() && document.visibilityState === "visible") refreshSnapshot();
  }, SNAPSHOT_REFRESH_MS);
  setInterval(updateTrustAge, TRUST_AGE_TICK_MS);
  if (KIOSK) wireKiosk({ focusScanner });
}

/** A kiosk's camera starts by itself; a kiosk with only a scanner shows no camera error. */
async function startKioskCamera() {
  if (state.stream) return;
  await startCamera();
  if (!state.stream) $("camera-error").hidden = true;
}

function focusScanner() {
  // At a desk with a USB scanner, the field must have the focus; on a touch phone, focusing
  // it would open the keyboard over the verdict.
  if (window.matchMedia("(pointer: fine)").matches) {
    $("wedge-input").focus({ preventScroll: true });
  }
}

async function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  try {
    await navigator.serviceWorker.register(CONFIG.serviceWorkerUrl, { scope: "/" });
  } catch {
    // Without a worker the page still works online; offline use needs it.
  }
}

// For the end-to-end and parity tests, and for a support engineer's console: verify a text
// against a given snapshot and time without touching the screen.
window.citycardAgent = {
  lastVerifyMs: null,
  ready: null,
  async verifyWith(qr, snapshot, now) {
    return verifyCard(qr, await loadSnapshot(snapshot), {
      now,
      lang: state.lang,
      defaultLang: CONFIG.defaultLanguage,
    });
  },
  prepare: loadSnapshot,
  verify: verifyCard,
  verifyLocally,
  trustLoaded: () => state.trust !== null,
  kiosk: KIOSK,
  lastSignal: () => signals.last,
};

wire();
state.homeLang = pickLanguage();
applyLanguage(state.homeLang);
focusScanner();
window.citycardAgent.ready = Promise.all([registerServiceWorker(), refreshSnapshot()]);
if (KIOSK) startKioskCamera();
