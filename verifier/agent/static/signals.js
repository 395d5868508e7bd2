// Optional sound and vibration for each verdict, for queues where the agent looks at the
// person, not the screen. Each verdict has its own rhythm, so it can be told apart without
// hearing the pitch: one short high tone (valid), three long low ones (invalid), two
// medium ones (unknown), one soft click (unreadable). Generated with WebAudio: no audio file.
//
// Off by default. The choice is remembered on the device (a preference, not card data).

const STORAGE_KEY = "citycard-agent-signals";

// [frequency in Hz (0: silence), seconds] ..., and a vibration pattern in milliseconds.
const PATTERNS = {
  valid: { tones: [[1046, 0.14]], vibrate: [120] },
  invalid: {
    tones: [[196, 0.22], [0, 0.08], [196, 0.22], [0, 0.08], [196, 0.22]],
    vibrate: [300, 100, 300, 100, 300],
  },
  unknown: { tones: [[523, 0.16], [0, 0.1], [523, 0.16]], vibrate: [160, 120, 160] },
  unreadable: { tones: [[330, 0.05]], vibrate: [40] },
};

export class Signals {
  constructor(storage) {
    this.storage = storage; // a function running a storage call, or returning null
    this.enabled = storage(() => localStorage.getItem(STORAGE_KEY)) === "on";
    this.audio = null;
    this.last = null; // the kind of the last signal given (for tests and support)
  }

  setEnabled(on, { remember = true } = {}) {
    this.enabled = on;
    if (remember) this.storage(() => localStorage.setItem(STORAGE_KEY, on ? "on" : "off"));
    if (on) this.unlock();
  }

  /** Browsers start audio only after a user gesture: call from one (a click, a key). */
  unlock() {
    if (!this.enabled) return;
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    if (!this.audio) this.audio = new Context();
    if (this.audio.state === "suspended") this.audio.resume().catch(() => {});
  }

  play(kind) {
    const pattern = PATTERNS[kind];
    if (!this.enabled || !pattern) return;
    this.last = kind;
    if (navigator.vibrate) navigator.vibrate(pattern.vibrate);
    if (!this.audio || this.audio.state !== "running") return;
    let at = this.audio.currentTime + 0.01;
    for (const [frequency, seconds] of pattern.tones) {
      if (frequency) this.tone(frequency, at, seconds);
      at += seconds;
    }
  }

  tone(frequency, start, seconds) {
    const oscillator = this.audio.createOscillator();
    const gain = this.audio.createGain();
    oscillator.type = "sine";
    oscillator.frequency.value = frequency;
    // A short ramp in and out: no click at the edges.
    gain.gain.setValueAtTime(0, start);
    gain.gain.linearRampToValueAtTime(0.35, start + 0.01);
    gain.gain.setValueAtTime(0.35, start + seconds - 0.02);
    gain.gain.linearRampToValueAtTime(0, start + seconds);
    oscillator.connect(gain).connect(this.audio.destination);
    oscillator.start(start);
    oscillator.stop(start + seconds);
  }
}
