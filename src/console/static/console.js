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
// A refused edit (422) and one that met a change made elsewhere (409) come back as the
// form's section with the message at the field: shown like any answer, not dropped.
document.addEventListener("htmx:beforeSwap", (e) => {
  const status = e.detail.xhr.status;
  if (status === 422 || status === 409) {
    e.detail.shouldSwap = true;
    e.detail.isError = false;
  }
});
document.addEventListener("htmx:afterSwap", (e) => {
  // Focus moves only when the new content asks for it (a step's heading): a form section
  // saved as the clerk tabs on keeps the focus where the clerk is.
  const swapped = (e.detail.target && e.detail.target.isConnected) ? e.detail.target : null;
  const target = swapped && (swapped.matches("[data-focus-on-swap]") ? swapped : swapped.querySelector("[data-focus-on-swap]"));
  if (target) target.focus();
  // The visit's revision moved on with the save: every other form of the page sends the
  // new one, or its next save would be refused as made on an old page. Revisions only grow.
  const revisions = [...document.querySelectorAll("input[name=revision]")];
  const latest = Math.max(...revisions.map((i) => Number(i.value) || 0));
  for (const i of revisions) i.value = String(latest);
});

// Printing buttons and the like need no script; a link with data-print opens the dialog.
for (const el of document.querySelectorAll("[data-print]")) {
  el.addEventListener("click", (e) => {
    e.preventDefault();
    window.print();
  });
}

// A form sent once: its submit buttons are disabled as it goes (a double click sends one
// request; the server refuses a repeat anyway).
document.addEventListener("submit", (e) => {
  const form = e.target;
  if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
  if (form.hasAttribute("hx-post")) return;
  setTimeout(() => {
    for (const b of form.querySelectorAll("button[type=submit]")) b.disabled = true;
  }, 0);
});

// The signature pad: pointer events (pen, finger, mouse) drawn on a canvas sized for the
// screen's pixel ratio; while a pen is down, touches are ignored (the palm). On submit the
// drawing goes into the form as a PNG data URL; an empty pad sends nothing.
const pad = document.getElementById("signature-pad");
if (pad instanceof HTMLCanvasElement) {
  const ratio = window.devicePixelRatio || 1;
  const cssWidth = pad.clientWidth || 600;
  const cssHeight = pad.clientHeight || 200;
  pad.width = Math.round(cssWidth * ratio);
  pad.height = Math.round(cssHeight * ratio);
  const ctx = pad.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.lineWidth = 2.5;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.strokeStyle = "#1a1a1a";
  let drawing = null;
  let penDown = false;
  let strokes = 0;
  const at = (e) => {
    const r = pad.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };
  pad.addEventListener("pointerdown", (e) => {
    if (e.pointerType === "touch" && penDown) return;
    if (e.pointerType === "pen") penDown = true;
    pad.setPointerCapture(e.pointerId);
    drawing = e.pointerId;
    const [x, y] = at(e);
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x + 0.1, y + 0.1);
    ctx.stroke();
    strokes += 1;
  });
  pad.addEventListener("pointermove", (e) => {
    if (drawing !== e.pointerId) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ev of events.length ? events : [e]) {
      const [x, y] = at(ev);
      ctx.lineTo(x, y);
    }
    ctx.stroke();
  });
  const end = (e) => {
    if (drawing !== e.pointerId) return;
    drawing = null;
    if (e.pointerType === "pen") penDown = false;
  };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);
  const clear = document.querySelector("[data-signature-clear]");
  if (clear) {
    clear.addEventListener("click", () => {
      ctx.clearRect(0, 0, pad.width, pad.height);
      strokes = 0;
    });
  }
  const form = document.querySelector("form[data-signature-form]");
  const data = document.getElementById("signature-data");
  if (form && data) {
    form.addEventListener("submit", () => {
      const method = form.querySelector("input[name=method]:checked");
      data.value = method && method.value === "signature" && strokes > 0 ? pad.toDataURL("image/png") : "";
    });
  }
}

arm();
