// Camera capture for the agent page: a stream sharp enough to read a printed card in a dim
// office, the torch where the phone has one, and a frame reader that looks hardest where the
// agent holds the code (the centre, under the on-screen frame).
//
// Why each choice (figures in docs/performance.md, bench/bench_capture.py):
// - Resolution: a 1280-wide stream puts a card's 26 mm code at about 100 px across from a
//   comfortable 25 cm; 1080p gives half again as many pixels per module, which is what reads a
//   version-11 code through blur and noise. Larger streams cost decode time per frame.
// - Continuous focus: a phone left in its default mode may keep the focus it had on the desk.
// - Centre crop at full resolution: the whole frame is decoded (by zxing) at a reduced size
//   and with the background's clutter; the crop under the frame keeps every sensor pixel of
//   the code and costs less than the whole frame would at full size.
// Nothing here keeps a frame or a decoded text: they live only for the call that reads them.

// What the page asks the camera for: the back camera, 1080p if it has it.
export const VIDEO_CONSTRAINTS = {
  facingMode: { ideal: "environment" },
  width: { ideal: 1920 },
  height: { ideal: 1080 },
};

// The on-screen frame covers the middle of the preview (agent.css, .camera .frame); the crop is
// that square, a little larger so a code held off-centre is still whole in it.
const CROP_FRACTION = 0.6;
// The crop is enlarged (smoothly) to about this side before it is sharpened and decoded: zxing
// samples a blurred code's modules more surely with more pixels on each.
const MIN_CROP_SIDE = 1300;
const MAX_UPSCALE = 2;
// Unsharp mask: the crop minus its blur (this radius, in crop pixels before enlarging) restores
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
 * darkest and lightest pixels aside) and add the difference with its blurred copy `soft`.
 */
export function sharpen(pixels, soft) {
  const count = pixels.length / 4;
  const histogram = new Uint32Array(256);
  for (let i = 0; i < pixels.length; i += 4) histogram[luma(pixels, i)]++;
  let low = 0;
  let high = 255;
  for (let seen = 0; low < 255 && (seen += histogram[low]) < count / 100; ) low++;
  for (let seen = 0; high > 0 && (seen += histogram[high]) < count / 100; ) high--;
  const gain = 255 / Math.max(1, high - low);
  for (let i = 0; i < pixels.length; i += 4) {
    const value = luma(pixels, i);
    const sharp = value + SHARPEN_AMOUNT * (value - luma(soft, i));
    const out = (sharp - low) * gain;
    pixels[i] = pixels[i + 1] = pixels[i + 2] = out < 0 ? 0 : out > 255 ? 255 : out;
    pixels[i + 3] = 255;
  }
}

function luma(data, i) {
  // Rec. 601 weights in integers; the camera's frames are near grey under office light anyway.
  return (data[i] * 77 + data[i + 1] * 150 + data[i + 2] * 29) >> 8;
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
  const soft = document.createElement("canvas");
  const softContext = soft.getContext("2d", { willReadFrequently: true });
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
      if (crop.width !== size) {
        crop.width = crop.height = size;
        soft.width = soft.height = size;
      }
      cropContext.imageSmoothingEnabled = true;
      cropContext.imageSmoothingQuality = "high";
      const sx = Math.round((width - side) / 2);
      const sy = Math.round((height - side) / 2);
      cropContext.drawImage(source, sx, sy, side, side, 0, 0, size, size);
      softContext.filter = `blur(${SHARPEN_RADIUS * scale}px)`;
      softContext.drawImage(crop, 0, 0);
      const image = cropContext.getImageData(0, 0, size, size);
      sharpen(image.data, softContext.getImageData(0, 0, size, size).data);
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
