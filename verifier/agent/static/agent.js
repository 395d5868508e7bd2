// The agent page: three ways to read a card, one verdict, nothing kept.
//
// Online the server verifies (it is the reference); with no network the page verifies itself
// against the trust snapshot the service worker keeps (verify.js). The verdict clears itself
// after a short time so the next person at a shared device sees nothing, and no card text,
// name or result is ever stored: not in localStorage, not in a cache, not in a log.

import { loadSnapshot, verifyCard } from "./verify.js";

const $ = (id) => document.getElementById(id);
const STRINGS = JSON.parse($("agent-strings").textContent);
const CONFIG = JSON.parse($("agent-config").textContent);
const LANG_KEY = "citycard-agent-language"; // the only thing the page remembers
const SNAPSHOT_REFRESH_MS = 10 * 60 * 1000;
const SERVER_TIMEOUT_MS = 8000;
const SCAN_INTERVAL_MS = 180;

const VERDICT_OF = {
  valid: "valid",
  status_unknown: "unknown",
  bad_signature: "forged",
};
const VERDICT_TITLE = {
  valid: "verdict_valid",
  unknown: "verdict_unknown",
  forged: "verdict_forged",
  invalid: "verdict_invalid",
};

const state = {
  lang: CONFIG.defaultLanguage,
  trust: null, // the prepared trust snapshot, or null before the first successful load
  shown: null, // {answer, offline} while a verdict is on screen
  clearAt: 0,
  timer: null,
  stream: null,
  scanning: false,
  decoder: null,
  // Each check gets a number; clearing the screen or starting another check makes older
  // answers stale, so a slow answer can never land on the next person's screen.
  seq: 0,
};

// ----------------------------------------------------------------------------- language

function text(key, vars = {}) {
  let value = (STRINGS[state.lang] || STRINGS.en)[key] ?? STRINGS.en[key] ?? key;
  for (const [name, v] of Object.entries(vars)) value = value.replace(`%(${name})s`, v);
  return value;
}

function pickLanguage() {
  const stored = safeStorage(() => localStorage.getItem(LANG_KEY));
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
  if (state.shown) render(state.shown.answer, state.shown.offline, { keepTimer: true });
  else showIdle();
}

// --------------------------------------------------------------------- formatting

function formatDate(iso) {
  if (!iso) return text("not_given");
  const [y, m, d] = iso.slice(0, 10).split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(state.lang, { dateStyle: "long", timeZone: "UTC" }).format(date);
}

function formatDateTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(state.lang, { dateStyle: "medium", timeStyle: "short" }).format(
    date,
  );
}

// --------------------------------------------------------------------------- verdict

function setVerdict(kind, title, message) {
  const box = $("verdict");
  box.dataset.verdict = kind;
  $("verdict-title").textContent = title;
  $("verdict-message").textContent = message;
}

function showIdle() {
  setVerdict("idle", text("ready"), text("ready_hint"));
  $("verdict-details").hidden = true;
  $("verdict-offline").hidden = true;
  $("verdict-footer").hidden = true;
}

function beginCheck() {
  // The previous card's details go before anything else happens.
  clearResult();
  setVerdict("checking", text("checking"), "");
  return ++state.seq;
}

/** Run `show` only if check `id` is still the one the screen is waiting for. */
function settle(id, show) {
  if (id === state.seq) show();
}

function showProblem(key) {
  // A problem is not a verdict about the card: say what to do, keep the frame neutral.
  clearResult();
  setVerdict("idle", text(key), text("ready_hint"));
}

function render(answer, offline, { keepTimer = false } = {}) {
  const kind = VERDICT_OF[answer.result] || "invalid";
  state.shown = { answer, offline };
  setVerdict(kind, text(VERDICT_TITLE[kind]), (STRINGS[state.lang].results || {})[answer.result]);
  $("verdict").dataset.result = answer.result;
  const details = $("verdict-details");
  if (answer.holder) {
    $("d-name").textContent = answer.holder.name;
    $("d-birth").textContent = formatDate(answer.holder.birth_date);
    $("d-issuer").textContent = answer.issuer ? answer.issuer.name || answer.issuer.code : "—";
    // The networks that vouch for the issuer, when it is trusted through one (issue 15).
    const networks = (answer.issuer && answer.issuer.networks) || [];
    $("d-network").textContent = networks.map((net) => net.name || net.code).join(", ");
    $("d-network-row").hidden = networks.length === 0;
    $("d-expires").textContent = answer.card ? formatDate(answer.card.expires) : "—";
    $("d-number").textContent = answer.card ? answer.card.number : "—";
    $("d-checked").textContent = formatDateTime(answer.status_checked_at);
    details.hidden = false;
  } else {
    details.hidden = true;
  }
  $("verdict-offline").hidden = !offline;
  $("verdict-footer").hidden = false;
  if (!keepTimer) startCountdown();
  else tick();
}

function startCountdown() {
  clearInterval(state.timer);
  state.clearAt = Date.now() + CONFIG.clearSeconds * 1000;
  state.timer = setInterval(tick, 250);
  tick();
}

function tick() {
  const left = Math.ceil((state.clearAt - Date.now()) / 1000);
  if (left <= 0) {
    clearResult();
    return;
  }
  const label = text("clears_in", { seconds: String(left) });
  if ($("countdown").textContent !== label) $("countdown").textContent = label;
}

function clearResult() {
  state.seq++;
  clearInterval(state.timer);
  state.timer = null;
  state.shown = null;
  for (const id of ["d-name", "d-birth", "d-issuer", "d-expires", "d-number", "d-checked"]) {
    $(id).textContent = "";
  }
  delete $("verdict").dataset.result;
  $("wedge-input").value = "";
  $("photo-input").value = "";
  showIdle();
}

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
      label += " " + text("offline_since", { date: formatDateTime(state.trust.generatedAtText) });
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
  });
  window.citycardAgent.lastVerifyMs = performance.now() - started;
  return answer;
}

async function check(qr) {
  if (!qr) {
    showProblem("empty_input");
    return;
  }
  const id = beginCheck();
  if (!isOffline()) {
    try {
      const { status, data } = await postToServer(CONFIG.verifyUrl, JSON.stringify({ qr }), {
        "Content-Type": "application/json",
      });
      if (data && typeof data.result === "string") settle(id, () => render(data, false));
      else settle(id, () => showProblem(status === 429 ? "rate_limited" : "server_error"));
      return;
    } catch (error) {
      if (!(error instanceof NetworkError)) throw error;
    }
  }
  updateConnection();
  const answer = await verifyLocally(qr);
  settle(id, () => (answer ? render(answer, true) : showProblem("offline_no_data")));
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
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 } },
      audio: false,
    });
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
  await video.play().catch(() => {});
  state.scanning = true;
  scanLoop(await nativeDetector());
}

function stopCamera() {
  state.scanning = false;
  if (state.stream) for (const track of state.stream.getTracks()) track.stop();
  state.stream = null;
  $("camera-video").srcObject = null;
  $("camera-box").hidden = true;
  $("camera-button").setAttribute("aria-expanded", "false");
  $("camera-button-text").textContent = text("camera_start");
}

async function scanLoop(detector) {
  const video = $("camera-video");
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  while (state.scanning) {
    let found = null;
    if (video.readyState >= 2 && video.videoWidth) {
      try {
        if (detector) {
          const codes = await detector.detect(video);
          found = codes.length ? codes[0].rawValue : null;
        } else {
          canvas.width = video.videoWidth;
          canvas.height = video.videoHeight;
          context.drawImage(video, 0, 0);
          const frame = context.getImageData(0, 0, canvas.width, canvas.height);
          const results = await (await zxing()).readBarcodes(frame, ZXING_OPTIONS);
          const hit = results.find((r) => r.isValid && r.text);
          found = hit ? hit.text : null;
        }
      } catch {
        found = null; // a frame that cannot be read: try the next one
      }
    }
    if (found && state.scanning) {
      // One card, one verdict: stop the camera (and its light) until the agent asks again.
      stopCamera();
      await check(found);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, SCAN_INTERVAL_MS));
  }
}

// --------------------------------------------------------------------------- photo

async function checkPhoto(file) {
  if (!file) {
    showProblem("empty_input");
    return;
  }
  if (CONFIG.maxImageBytes && file.size > CONFIG.maxImageBytes) {
    showProblem("photo_too_large");
    return;
  }
  const id = beginCheck();
  if (!isOffline()) {
    const form = new FormData();
    form.append("photo", file);
    try {
      const { status, data } = await postToServer(CONFIG.decodeImageUrl, form);
      settle(id, () => {
        if (data && typeof data.result === "string") render(data, false);
        else if (status === 413) showProblem("photo_too_large");
        else if (status === 429) showProblem("rate_limited");
        else if (status === 422 || status === 400) showProblem("no_code_in_photo");
        else showProblem("server_error");
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
  settle(id, () => {
    if (!qr) showProblem("no_code_in_photo");
    else if (answer) render(answer, true);
    else showProblem("offline_no_data");
  });
}

// ------------------------------------------------------------------------- wiring

function cleanScannerInput(value) {
  // Scanners end with Enter and may add a tab or line feed. Spaces are kept: base45 uses them,
  // a card's text may end with one.
  return value.replace(/^[\s]+/, "").replace(/[\r\n\t]+$/, "");
}

function wire() {
  $("lang-select").addEventListener("change", (event) => {
    const lang = event.target.value;
    if (!STRINGS[lang]) return;
    safeStorage(() => localStorage.setItem(LANG_KEY, lang));
    applyLanguage(lang);
  });
  $("wedge-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("wedge-input");
    const qr = cleanScannerInput(input.value);
    input.value = ""; // the card's text does not stay on screen
    check(qr);
  });
  $("photo-input").addEventListener("change", (event) => {
    const input = event.target;
    if (input.files && input.files[0]) checkPhoto(input.files[0]);
  });
  $("camera-button").addEventListener("click", () => (state.stream ? stopCamera() : startCamera()));
  $("clear-button").addEventListener("click", () => {
    clearResult();
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
      clearResult();
      stopCamera();
    }
  });
  setInterval(() => {
    if (!isOffline()) refreshSnapshot();
  }, SNAPSHOT_REFRESH_MS);
}

function focusScanner() {
  // At a desk with a USB scanner, the field must have the focus; on a touch phone, focusing
  // it would open the keyboard over the verdict.
  if (window.matchMedia("(pointer: fine)").matches) $("wedge-input").focus();
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
};

wire();
applyLanguage(pickLanguage());
focusScanner();
window.citycardAgent.ready = Promise.all([registerServiceWorker(), refreshSnapshot()]);
