// The counter console's one script (a module, served by the gateway: script-src 'self').
// - The idle logout: a minute before the server would end the session, a dialog offers
//   延長する (one request that counts as activity) or ログアウト; when the time is up, the
//   browser goes to the login page, which brings the clerk back to this page afterwards.
// - After an htmx swap, focus moves to the element marked data-focus-on-swap (the new
//   step's heading or the error summary), so keyboard and screen-reader users follow.
// Nothing here is needed to use the console: every form also works as a plain POST.

const body = document.body;
const idleSeconds = Number(body.dataset.idleSeconds || 0);
const csrf = body.dataset.csrf || "";
const dialog = document.getElementById("idle-dialog");
let warnTimer = 0;
let endTimer = 0;

function here() {
  return location.pathname + location.search;
}

function arm() {
  if (!idleSeconds) return;
  clearTimeout(warnTimer);
  clearTimeout(endTimer);
  const warnAt = Math.max(idleSeconds - 60, 1) * 1000;
  warnTimer = setTimeout(() => {
    if (dialog && !dialog.open) {
      dialog.showModal();
      const heading = dialog.querySelector("h2");
      if (heading) heading.focus();
    }
  }, warnAt);
  endTimer = setTimeout(() => {
    location.assign("/counter/login?timeout=1&next=" + encodeURIComponent(here()));
  }, idleSeconds * 1000);
}

async function extend() {
  const response = await fetch("/counter/keepalive", {
    method: "POST",
    headers: { "X-CSRF-Token": csrf },
    credentials: "same-origin",
  });
  if (response.ok) {
    if (dialog && dialog.open) dialog.close();
    arm();
  } else {
    location.assign("/counter/login?timeout=1&next=" + encodeURIComponent(here()));
  }
}

if (dialog) {
  const button = dialog.querySelector("[data-extend]");
  if (button) button.addEventListener("click", extend);
}

document.addEventListener("htmx:afterRequest", arm);
document.addEventListener("htmx:afterSwap", () => {
  const target = document.querySelector("[data-focus-on-swap]");
  if (target) target.focus();
});

// Printing buttons and the like need no script; a link with data-print opens the dialog.
for (const el of document.querySelectorAll("[data-print]")) {
  el.addEventListener("click", (e) => {
    e.preventDefault();
    window.print();
  });
}

arm();
