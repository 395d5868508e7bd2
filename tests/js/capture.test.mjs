// Unit tests of the agent page's camera helpers (verifier/agent/static/capture.js) under node's
// test runner:  node --test tests/js/
//
// The camera itself is exercised in Chromium (tests/e2e/verifier/test_agent_capture.py); here,
// what a headless browser cannot show: a camera with a torch and one that refuses the 1080p
// request, with stand-ins for the track and the button.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  VIDEO_CONSTRAINTS,
  connectTorch,
  gaussian,
  openCamera,
  setTorch,
  sharpen,
} from "../../verifier/agent/static/capture.js";

function fakeTrack({ capabilities = {}, refuse = false } = {}) {
  const applied = [];
  let torch = false;
  return {
    applied,
    getCapabilities: () => capabilities,
    getSettings: () => (capabilities.torch ? { torch } : {}),
    async applyConstraints(constraints) {
      if (refuse) throw Object.assign(new Error("no"), { name: "OverconstrainedError" });
      applied.push(constraints);
      for (const advanced of constraints.advanced || []) {
        if ("torch" in advanced) torch = advanced.torch;
      }
    },
  };
}

function fakeButton() {
  const attributes = { "aria-pressed": "false" };
  const listeners = new Set();
  return {
    hidden: true,
    setAttribute: (name, value) => (attributes[name] = String(value)),
    getAttribute: (name) => attributes[name] ?? null,
    addEventListener: (type, fn) => listeners.add(fn),
    removeEventListener: (type, fn) => listeners.delete(fn),
    async click() {
      for (const fn of [...listeners]) await fn();
    },
    listeners,
  };
}

function fakeDevices(track, { refuseIdeal = false } = {}) {
  const calls = [];
  return {
    calls,
    async getUserMedia(constraints) {
      calls.push(constraints);
      if (refuseIdeal && constraints.video.width) {
        throw Object.assign(new Error("too big"), { name: "OverconstrainedError" });
      }
      return { getVideoTracks: () => [track] };
    },
  };
}

test("asks for the back camera at 1080p and for continuous focus when it has it", async () => {
  const track = fakeTrack({ capabilities: { focusMode: ["manual", "continuous"], torch: true } });
  const devices = fakeDevices(track);
  const camera = await openCamera(devices);
  assert.deepEqual(devices.calls[0], { video: VIDEO_CONSTRAINTS, audio: false });
  assert.equal(VIDEO_CONSTRAINTS.width.ideal, 1920);
  assert.deepEqual(track.applied, [{ advanced: [{ focusMode: "continuous" }] }]);
  assert.equal(camera.torch, true);
  assert.equal(camera.track, track);
});

test("a camera without focus modes or torch is used as it is", async () => {
  const track = fakeTrack();
  const camera = await openCamera(fakeDevices(track));
  assert.deepEqual(track.applied, []);
  assert.equal(camera.torch, false);
});

test("a camera that refuses the ideal size is opened with its own", async () => {
  const track = fakeTrack();
  const devices = fakeDevices(track, { refuseIdeal: true });
  await openCamera(devices);
  assert.equal(devices.calls.length, 2);
  assert.deepEqual(devices.calls[1].video, { facingMode: { ideal: "environment" } });
});

test("a refused camera permission is not retried", async () => {
  const devices = {
    async getUserMedia() {
      throw Object.assign(new Error("denied"), { name: "NotAllowedError" });
    },
  };
  await assert.rejects(openCamera(devices), { name: "NotAllowedError" });
});

test("the torch switch appears only with a torch, toggles it, and goes away", async () => {
  const none = fakeButton();
  connectTorch(none, fakeTrack(), false);
  assert.equal(none.hidden, true);
  assert.equal(none.listeners.size, 0);

  const track = fakeTrack({ capabilities: { torch: true } });
  const button = fakeButton();
  const release = connectTorch(button, track, true);
  assert.equal(button.hidden, false);
  await button.click();
  assert.equal(button.getAttribute("aria-pressed"), "true");
  assert.deepEqual(track.applied.at(-1), { advanced: [{ torch: true }] });
  await button.click();
  assert.equal(button.getAttribute("aria-pressed"), "false");
  release();
  assert.equal(button.hidden, true);
  assert.equal(button.listeners.size, 0);
});

test("a torch that refuses leaves the switch off", async () => {
  const track = fakeTrack({ capabilities: { torch: true }, refuse: true });
  assert.equal(await setTorch(track, true), false);
  const button = fakeButton();
  connectTorch(button, track, true);
  await button.click();
  assert.equal(button.getAttribute("aria-pressed"), "false");
});

test("sharpening stretches a dim frame to the full range and steepens its edges", () => {
  // A dim step edge (paper black at 38, paper white at 115), blurred over three pixels.
  const row = [38, 38, 38, 38, 58, 77, 96, 115, 115, 115, 115, 115];
  const pixels = new Uint8ClampedArray(row.flatMap((v) => [v, v, v, 255]));
  sharpen(pixels, row.length, 1);
  const out = [];
  for (let i = 0; i < pixels.length; i += 4) out.push(pixels[i]);
  // Stretching alone would give the ramp 66, 129, 192: sharpening pushes its ends apart.
  assert.deepEqual(out.slice(0, 4), [0, 0, 0, 0], String(out));
  assert.deepEqual(out.slice(7), [255, 255, 255, 255, 255], String(out));
  assert.ok(out[4] < 40 && out[6] > 225, String(out));
});

test("the blur behind the sharpening is close to a Gaussian of the radius asked", () => {
  const width = 61;
  const height = 41;
  const values = new Float32Array(width * height);
  values[20 * width + 30] = 1000;
  const blurred = gaussian(values, width, height, 3);
  let total = 0;
  let across = 0;
  let down = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = blurred[y * width + x];
      total += v;
      across += v * (x - 30) ** 2;
      down += v * (y - 20) ** 2;
    }
  }
  assert.ok(Math.abs(total - 1000) < 0.01, String(total)); // nothing lost at the edges
  for (const spread of [across, down]) {
    const sigma = Math.sqrt(spread / total);
    assert.ok(sigma > 2.6 && sigma < 3.2, String(sigma));
  }
  assert.equal(values[20 * width + 30], 1000); // the input is left as it was
});
