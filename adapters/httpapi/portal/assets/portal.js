// Ringside portal: the only script. It opens and closes the confirmation
// dialogs, refreshes the live calls table and polls a pending link by
// signing in at Zoho; every page works without it except those
// conveniences (the link's "Check now" polls by hand).
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

// A pending link by signing in at Zoho: post the "Check now" form (with
// its CSRF token) every data-poll milliseconds; once it is no longer
// pending, reload the page, which shows how it ended.
for (const form of document.querySelectorAll("form[data-poll]")) {
  const every = Math.max(Number(form.dataset.poll) || 2000, 1000);
  const poll = async () => {
    try {
      const body = new URLSearchParams(new FormData(form));
      body.set("js", "1");
      const r = await fetch(form.action, { method: "POST", body, credentials: "same-origin", cache: "no-store" });
      if (!r.ok || r.redirected || (await r.json()).state !== "pending") {
        location.reload();
        return;
      }
    } catch (err) {
      // offline for a moment: try again at the next tick
    }
    setTimeout(poll, every);
  };
  setTimeout(poll, every);
}
