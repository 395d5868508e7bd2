// Kiosk mode (/?kiosk=1): a device mounted at a desk, used by whoever stands there. The page
// keeps the scanner ready and leads nowhere else; agent.js starts the camera by itself and
// returns to the device's language after each card.

export function wireKiosk({ focusScanner }) {
  document.documentElement.dataset.kiosk = "on";
  // No context menu, and no file dropped onto the page (the browser would open it in place of
  // the page).
  for (const type of ["contextmenu", "dragover", "drop"]) {
    document.addEventListener(type, (event) => event.preventDefault());
  }
  // The scanner field takes the focus back whenever nothing else has it.
  const field = document.getElementById("wedge-input");
  field.addEventListener("focusout", (event) => {
    if (!event.relatedTarget) setTimeout(focusScanner, 0);
  });
}
