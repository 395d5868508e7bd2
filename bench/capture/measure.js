// Run by bench/bench_capture.py inside the agent page (page.evaluate): open the fake camera the
// way a capture path does, decode each of the video's numbered shots once, report per shot.
//
// Two capture paths are measured in the same page:
//   "main":    what agent.js did before capture.js (issue #16): a 1280-wide stream, the whole
//              frame to BarcodeDetector when it reads QR codes, else to zxing-wasm.
//   "capture": static/capture.js: its camera request and its frame reader.
// Besides the path's own answer, every decoder the path uses is asked on its own, so the
// figures say which decoder reads what.
async ({ mode, frames, timeoutMs, marker, markerBits, fileWidth }) => {
  const base = new URL("/agent/static/", location.href);
  const zxingModule = await import(new URL("vendor/zxing-wasm/reader/index.js", base).href);
  const wasmUrl = new URL("vendor/zxing-wasm/reader/zxing_reader.wasm", base).href;
  zxingModule.prepareZXingModule({
    overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? wasmUrl : prefix + path) },
  });
  let native = null;
  if ("BarcodeDetector" in window) {
    const formats = await window.BarcodeDetector.getSupportedFormats().catch(() => []);
    if (formats.includes("qr_code")) native = new window.BarcodeDetector({ formats: ["qr_code"] });
  }

  // ---- the capture path under test
  let stream;
  let read; // (canvas) => {text, decoder} | null
  let decoders; // name -> (canvas) => text | null, each decoder alone
  if (mode === "main") {
    // agent.js before capture.js, copied as it was: the constraints, the options, the frame.
    const OPTIONS = { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1 };
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 } },
      audio: false,
    });
    const zxingWhole = async (canvas) => {
      const context = canvas.getContext("2d", { willReadFrequently: true });
      const frame = context.getImageData(0, 0, canvas.width, canvas.height);
      const results = await zxingModule.readBarcodes(frame, OPTIONS);
      const hit = results.find((r) => r.isValid && r.text);
      return hit ? hit.text : null;
    };
    const nativeWhole = async (canvas) => {
      const codes = await native.detect(canvas);
      return codes.length ? codes[0].rawValue : null;
    };
    decoders = native ? { native: nativeWhole } : {};
    decoders.zxing = zxingWhole;
    read = async (canvas) => {
      const text = native ? await nativeWhole(canvas) : await zxingWhole(canvas);
      return text ? { text, decoder: native ? "native" : "zxing" } : null;
    };
  } else {
    const capture = await import(new URL("capture.js", base).href);
    const camera = await capture.openCamera();
    stream = camera.stream;
    const reader = capture.createFrameReader({ zxing: async () => zxingModule, native });
    read = (canvas) => reader.read(canvas, canvas.width, canvas.height);
    decoders = {};
    for (const name of reader.decoders) {
      decoders[name] = async (canvas) => {
        const hit = await reader.read(canvas, canvas.width, canvas.height, { only: name });
        return hit ? hit.text : null;
      };
    }
  }

  const video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  video.style.cssText = "position:fixed;inset-block-start:0;inline-size:64px";
  document.body.append(video);
  video.srcObject = stream;
  await video.play();
  while (!video.videoWidth) await new Promise((r) => setTimeout(r, 20));
  const settings = stream.getVideoTracks()[0].getSettings();

  const snapshot = document.createElement("canvas");
  const context = snapshot.getContext("2d", { willReadFrequently: true });

  function shotNumber(width, height) {
    // The strip of squares the generator draws in the top left corner, scaled with the stream.
    const scale = width / fileWidth;
    const row = context.getImageData(0, Math.round(marker * scale), width, 1).data;
    const bit = (i) => row[4 * Math.round((marker + i * marker) * scale)] > 128;
    if (!bit(0)) return null; // not one of our frames (or not yet drawn)
    let n = 0;
    for (let i = 1; i <= markerBits; i++) n = n * 2 + (bit(i) ? 1 : 0);
    return n;
  }

  const seen = new Map();
  const deadline = performance.now() + timeoutMs;
  while (seen.size < frames && performance.now() < deadline) {
    await new Promise((resolve) => video.requestVideoFrameCallback(() => resolve()));
    snapshot.width = video.videoWidth;
    snapshot.height = video.videoHeight;
    context.drawImage(video, 0, 0);
    const index = shotNumber(snapshot.width, snapshot.height);
    if (index === null || index >= frames || seen.has(index)) continue;
    const started = performance.now();
    let answer = null;
    try {
      answer = await read(snapshot);
    } catch (error) {
      answer = { text: null, decoder: `error: ${error}` };
    }
    const ms = performance.now() - started;
    const each = {};
    for (const [name, decode] of Object.entries(decoders)) {
      try {
        each[name] = await decode(snapshot);
      } catch {
        each[name] = null;
      }
    }
    seen.set(index, { text: answer ? answer.text : null, decoder: answer ? answer.decoder : null, ms, each });
  }
  for (const track of stream.getTracks()) track.stop();
  video.remove();
  return {
    width: settings.width,
    height: settings.height,
    native: native !== null,
    shots: Object.fromEntries(seen),
  };
};
