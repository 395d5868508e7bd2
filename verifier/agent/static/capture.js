// Camera capture for the agent page: a stream sharp enough to read a printed card in a dim
// office, the torch where the phone has one, and a frame reader that looks hardest where the
// agent holds the code (the centre, under the on-screen frame).
//
// Why each choice (figures in docs/performance.md, bench/bench_capture.py):
// - Resolution: 1080p gives half again as many pixels on the code as the 1280-wide stream the
//   page used to ask for; larger streams cost decode time on every frame for a code that a
//   phone held at reading distance already fills 150 to 250 px of at 1080p.
// - Continuous focus: a phone left in its default mode may keep the focus it had on the desk.
// - Centre crop at full resolution, sharpened: the whole frame is decoded at a reduced size;
//   the crop under the frame keeps every camera pixel of the code, and an unsharp mask on it
//   gives back the edges blur and dim light took. With the same 1280x720 frames, the
//   longest-name card at 150 px read in 20 of 20 shots this way against 6 of 20 whole.
// Nothing here keeps a frame or a decoded text: they live only for the call that reads them.

// What the page asks the camera for: the back camera, 1080p if it has it.
export const VIDEO_CONSTRAINTS = {
  facingMode: { ideal: "environment" },
  width: { ideal: 1920 },
  height: { ideal: 1080 },
};

// The crop: a centred square of this fraction of the frame's shorter side, about the inner four
// fifths of the on-screen frame (agent.css, .camera .frame) on a 16:9 stream. A code held
// elsewhere in view is left to the whole-frame pass.
const CROP_FRACTION = 0.6;
// The crop is enlarged (smoothly) to about this side before it is sharpened and decoded: zxing
// samples a blurred code's modules more surely with more pixels on each.
const MIN_CROP_SIDE = 1300;
const MAX_UPSCALE = 2;
// Unsharp mask: the crop minus its blur (this standard deviation, in camera pixels) restores
// the edges a phone's lens and a dim scene soften; the amount is how much of it is added back.
const SHARPEN_RADIUS = 3;
const SHARPEN_AMOUNT = 2;
// The whole-frame pass works on at most this width (zxing would scale a larger one down anyway).
const MAX_FRAME_WIDTH = 1280;

const ZXING_CROP = {
  formats: ["QRCode"],
  tryHarder: true,
  tryRotate: false, // QR codes are found at any angle; rotation only helps linear codes
  tryInvert: false, // cards are printed dark on light
  tryDownscale: false, // the crop is already the size we want
  maxNumberOfSymbols: 1,
};
const ZXING_FRAME = {
  formats: ["QRCode"],
  tryHarder: true,
  tryRotate: false,
  tryInvert: false,
  maxNumberOfSymbols: 1,
};

/**
 * Open the back camera at the highest useful resolution and ask for continuous focus.
 * Returns {stream, track, torch}; `torch` says whether the track has a torch to switch.
 * Throws what getUserMedia throws (NotAllowedError, NotFoundError, ...).
 */
export async function openCamera(mediaDevices = navigator.mediaDevices) {
  let stream;
  try {
    stream = await mediaDevices.getUserMedia({ video: VIDEO_CONSTRAINTS, audio: false });
  } catch (error) {
    // An old camera or driver that refuses the ideal size outright: take what it has.
    if (!error || error.name !== "OverconstrainedError") throw error;
    stream = await mediaDevices.getUserMedia({
      video: { facingMode: { ideal: "environment" } },
      audio: false,
    });
  }
  const [track] = stream.getVideoTracks();
  const capabilities = capabilitiesOf(track);
  if ((capabilities.focusMode || []).includes("continuous")) {
    // Best effort: a camera that refuses keeps its own focus mode, and the page still reads.
    await track.applyConstraints({ advanced: [{ focusMode: "continuous" }] }).catch(() => {});
  }
  return { stream, track, torch: capabilities.torch === true };
}

function capabilitiesOf(track) {
  try {
    return (track && track.getCapabilities && track.getCapabilities()) || {};
  } catch {
    return {};
  }
}

/** Switch the torch; resolves to whether the camera now has it in the state asked for. */
export async function setTorch(track, on) {
  try {
    await track.applyConstraints({ advanced: [{ torch: Boolean(on) }] });
  } catch {
    return false;
  }
  const settings = track.getSettings ? track.getSettings() : {};
  return settings.torch === undefined ? true : settings.torch === Boolean(on);
}

/**
 * Show `button` as the torch switch of `track` when the camera has a torch (`available`), else
 * keep it hidden. The button is a toggle (aria-pressed). Returns a function that hides it again
 * and forgets the track (the torch goes off with the track when the camera stops).
 */
export function connectTorch(button, track, available) {
  button.setAttribute("aria-pressed", "false");
  button.hidden = !available;
  if (!available) return () => {};
  let busy = false;
  const onClick = async () => {
    if (busy) return;
    busy = true;
    const wanted = button.getAttribute("aria-pressed") !== "true";
    if (await setTorch(track, wanted)) button.setAttribute("aria-pressed", String(wanted));
    busy = false;
  };
  button.addEventListener("click", onClick);
  return () => {
    button.removeEventListener("click", onClick);
    button.hidden = true;
    button.setAttribute("aria-pressed", "false");
  };
}

/**
 * Sharpen a frame in place (RGBA, grey out): stretch its levels to the full range (the 1 %
 * darkest and lightest pixels aside) and add back SHARPEN_AMOUNT times its difference with a
 * Gaussian blur of it (standard deviation SHARPEN_RADIUS pixels): an unsharp mask.
 */
export function sharpen(pixels, width, height) {
  const count = width * height;
  const grey = new Float32Array(count);
  const histogram = new Uint32Array(256);
  for (let p = 0, i = 0; p < count; p++, i += 4) {
    // Rec. 601 weights; under office light the camera's frames are near grey anyway.
    const value = (pixels[i] * 77 + pixels[i + 1] * 150 + pixels[i + 2] * 29) >> 8;
    grey[p] = value;
    histogram[value]++;
  }
  let low = 0;
  let high = 255;
  for (let seen = 0; low < 255 && (seen += histogram[low]) < count / 100; ) low++;
  for (let seen = 0; high > 0 && (seen += histogram[high]) < count / 100; ) high--;
  const gain = 255 / Math.max(1, high - low);
  const soft = gaussian(grey, width, height, SHARPEN_RADIUS);
  for (let p = 0, i = 0; p < count; p++, i += 4) {
    const value = (grey[p] + SHARPEN_AMOUNT * (grey[p] - soft[p]) - low) * gain;
    pixels[i] = pixels[i + 1] = pixels[i + 2] = value; // the clamped array clamps and rounds
    pixels[i + 3] = 255;
  }
}

/** A Gaussian blur approximated by three box blurs (each in time independent of its width). */
export function gaussian(values, width, height, sigma) {
  // Box widths whose three passes have the variance sigma² (W. Jarosz, "Fast image
  // convolutions", 2001): the odd widths below and above the ideal one, mixed.
  const ideal = Math.sqrt((12 * sigma * sigma) / 3 + 1);
  let lower = Math.floor(ideal);
  if (lower % 2 === 0) lower--;
  const lowerPasses = Math.round((12 * sigma * sigma - 3 * lower * lower - 12 * lower - 9) / (-4 * lower - 4));
  const across = new Float32Array(values.length);
  const buffers = [new Float32Array(values.length), new Float32Array(values.length)];
  let current = values;
  for (let pass = 0; pass < 3; pass++) {
    const radius = ((pass < lowerPasses ? lower : lower + 2) - 1) / 2;
    boxBlur(current, across, width, height, radius, 1, width);
    current = boxBlur(across, buffers[pass % 2], height, width, radius, width, 1);
  }
  return current;
}

/** One box blur along lines of `length` samples `step` apart, `lines` of them `stride` apart;
 * the edges repeat their last sample. Writes into and returns `target`. */
function boxBlur(source, target, length, lines, radius, step, stride) {
  const scale = 1 / (2 * radius + 1);
  for (let line = 0; line < lines; line++) {
    const start = line * stride;
    const first = source[start];
    const last = source[start + (length - 1) * step];
    let sum = first * radius; // the window of sample 0, its last sample still to come
    for (let k = 0; k < radius; k++) sum += source[start + Math.min(k, length - 1) * step];
    for (let k = 0; k < length; k++) {
      const add = k + radius < length ? source[start + (k + radius) * step] : last;
      sum += add;
      target[start + k * step] = sum * scale;
      const drop = k - radius >= 0 ? source[start + (k - radius) * step] : first;
      sum -= drop;
    }
  }
  return target;
}

/**
 * A reader of camera frames. `zxing` resolves to the zxing-wasm reader module (loaded only when
 * needed); `native` is a BarcodeDetector for QR codes, or null.
 *
 * read(source, width, height) decodes one frame (a video element, canvas or image of that size)
 * and resolves to {text, decoder} or null. `decoders` names what it tries, in order: the
 * platform's detector on the whole frame (fast, on phones that have it), zxing on the centre
 * crop at full resolution, then zxing on the whole frame. `{only: name}` runs one of them
 * (for the benchmark).
 */
export function createFrameReader({ zxing, native = null }) {
  const crop = document.createElement("canvas");
  const cropContext = crop.getContext("2d", { willReadFrequently: true });
  const large = document.createElement("canvas");
  const largeContext = large.getContext("2d", { willReadFrequently: true });
  const whole = document.createElement("canvas");
  const wholeContext = whole.getContext("2d", { willReadFrequently: true });

  async function zxingRead(context, canvas, options) {
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    const results = await (await zxing()).readBarcodes(image, options);
    const hit = results.find((r) => r.isValid && r.text);
    return hit ? hit.text : null;
  }

  const passes = [];
  if (native) {
    passes.push([
      "native",
      async (source) => {
        const codes = await native.detect(source);
        const hit = codes.find((c) => c.rawValue);
        return hit ? hit.rawValue : null;
      },
    ]);
  }
  passes.push([
    "zxing-centre",
    async (source, width, height) => {
      const side = Math.round(Math.min(width, height) * CROP_FRACTION);
      const scale = Math.min(MAX_UPSCALE, Math.max(1, MIN_CROP_SIDE / side));
      const size = Math.round(side * scale);
      if (crop.width !== side) crop.width = crop.height = side;
      if (large.width !== size) large.width = large.height = size;
      const sx = Math.round((width - side) / 2);
      const sy = Math.round((height - side) / 2);
      // Sharpened at the camera's resolution (a quarter of the pixels of the enlarged crop),
      // then enlarged smoothly: both steps are linear, so the order changes little but time.
      cropContext.drawImage(source, sx, sy, side, side, 0, 0, side, side);
      const pixels = cropContext.getImageData(0, 0, side, side);
      sharpen(pixels.data, side, side);
      cropContext.putImageData(pixels, 0, 0);
      largeContext.imageSmoothingQuality = "high";
      largeContext.drawImage(crop, 0, 0, size, size);
      const image = largeContext.getImageData(0, 0, size, size);
      const results = await (await zxing()).readBarcodes(image, ZXING_CROP);
      const hit = results.find((r) => r.isValid && r.text);
      return hit ? hit.text : null;
    },
  ]);
  passes.push([
    "zxing-frame",
    async (source, width, height) => {
      const scale = Math.min(1, MAX_FRAME_WIDTH / width);
      const w = Math.round(width * scale);
      const h = Math.round(height * scale);
      if (whole.width !== w || whole.height !== h) {
        whole.width = w;
        whole.height = h;
      }
      wholeContext.drawImage(source, 0, 0, w, h);
      return zxingRead(wholeContext, whole, ZXING_FRAME);
    },
  ]);

  return {
    decoders: passes.map(([name]) => name),
    async read(source, width, height, { only = null } = {}) {
      if (!width || !height) return null;
      for (const [name, pass] of passes) {
        if (only && name !== only) continue;
        const text = await pass(source, width, height);
        if (text) return { text, decoder: name };
      }
      return null;
    },
  };
}
