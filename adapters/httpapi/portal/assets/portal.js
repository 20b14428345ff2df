// Ringside portal: the only script. It opens and closes the confirmation
// dialogs and refreshes the live calls table; every page works without
// it except those two conveniences.
"use strict";

document.addEventListener("click", (e) => {
  const open = e.target.closest("[data-open]");
  if (open) {
    const d = document.getElementById(open.dataset.open);
    if (d && typeof d.showModal === "function") {
      d.showModal();
    }
    return;
  }
  const close = e.target.closest("[data-close]");
  if (close) {
    const d = close.closest("dialog");
    if (d) {
      d.close();
    }
  }
});

// The live view: fetch the table every 2 seconds. A session that ended
// (a redirect to the login) reloads the page, which shows the login.
for (const el of document.querySelectorAll("[data-refresh]")) {
  const refresh = async () => {
    try {
      const r = await fetch(el.dataset.refresh, { credentials: "same-origin", cache: "no-store" });
      if (!r.ok || r.redirected) {
        location.reload();
        return;
      }
      el.innerHTML = await r.text();
    } catch (err) {
      // offline for a moment: try again at the next tick
    }
  };
  setInterval(refresh, 2000);
}
