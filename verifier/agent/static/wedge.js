// Keyboard-wedge scanners type a code as a burst of fast keystrokes. Many end it with Enter
// (the form's submit does the rest), but some send Tab or nothing at all. A burst followed by
// a short pause is therefore a complete scan too. A person typing is far slower than
// FAST_GAP_MS per key and keeps Enter (or the Check button) to submit; a paste counts as a
// burst.
//
// No storage, no logging: the text only passes through to `onScan`.

export const IDLE_MS = 400; // a pause this long ends a burst
const FAST_GAP_MS = 50; // keystrokes closer than this come from a machine
const BURST_CHARS = 8; // this many fast characters make a burst

/**
 * Watch `input`; call `onScan()` once a burst has paused. Returns {reset}, to call whenever
 * the field is emptied or submitted by other means (Enter), so nothing fires twice.
 */
export function watchWedge(input, onScan, { now = () => performance.now() } = {}) {
  let lastAt = -Infinity;
  let fastRun = 0;
  let burst = false;
  let length = 0;
  let timer = null;

  const reset = () => {
    clearTimeout(timer);
    timer = null;
    burst = false;
    fastRun = 0;
    lastAt = -Infinity;
    length = input.value.length;
  };

  input.addEventListener("input", (event) => {
    const at = now();
    const added = input.value.length - length;
    length = input.value.length;
    if (event.inputType === "insertFromPaste" || added >= BURST_CHARS) {
      burst = true;
    } else if (added > 0 && at - lastAt <= FAST_GAP_MS) {
      fastRun += added;
      if (fastRun >= BURST_CHARS) burst = true;
    } else {
      fastRun = 0;
    }
    lastAt = at;
    clearTimeout(timer);
    timer = null;
    if (burst && input.value.trim()) {
      timer = setTimeout(() => {
        timer = null;
        onScan();
      }, IDLE_MS);
    }
  });
  return { reset };
}
