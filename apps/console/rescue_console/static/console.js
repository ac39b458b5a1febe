// The console's only script of its own: no inline script anywhere (CSP script-src 'self').
"use strict";

// Admission: show the fields of the chosen arrival route only (all show without script).
function showRouteFields() {
  const chosen = document.querySelector("input[data-route-choice]:checked");
  document.querySelectorAll("fieldset[data-route]").forEach((fieldset) => {
    fieldset.hidden = !chosen || fieldset.dataset.route !== chosen.value;
  });
}

// ---- photo from the phone's camera --------------------------------------------
// The image goes into the form's hidden "photo" field as base64 (intake's photo API
// takes base64 JSON): a JPEG or PNG of at most 2 MB as it is, anything else the
// browser can decode shrunk to a JPEG that fits. The server checks it again.
const MAX_PHOTO_BYTES = 2 * 1024 * 1024;
const PHOTO_NOT_AN_IMAGE = "照片须为 JPEG 或 PNG 图片，请重新拍摄或选择。";
const PHOTO_TOO_LARGE = "照片超过 2 MB，压缩后仍过大，请重新拍摄。";

class PhotoRefused extends Error {}

function photoError(field, words) {
  const input = field.querySelector("[data-photo-input]");
  const error = field.querySelector("[data-photo-error]");
  error.textContent = words || "";
  error.hidden = !words;
  field.classList.toggle("has-error", Boolean(words));
  if (words) {
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "hint-photo err-photo");
  } else {
    input.removeAttribute("aria-invalid");
    input.setAttribute("aria-describedby", "hint-photo");
  }
}

function readAsDataURL(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(new PhotoRefused(PHOTO_NOT_AN_IMAGE));
    reader.readAsDataURL(blob);
  });
}

async function shrinkPhoto(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch (e) {
    throw new PhotoRefused(PHOTO_NOT_AN_IMAGE);
  }
  const canvas = document.createElement("canvas");
  for (const [side, quality] of [[1600, 0.85], [1280, 0.75], [1024, 0.6]]) {
    const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
    if (blob && blob.size <= MAX_PHOTO_BYTES) return blob;
  }
  throw new PhotoRefused(PHOTO_TOO_LARGE);
}

async function photoChosen(field) {
  const input = field.querySelector("[data-photo-input]");
  const data = field.querySelector("[data-photo-data]");
  const taken = field.querySelector("[data-photo-taken]");
  const preview = field.querySelector("[data-photo-preview]");
  const file = input.files && input.files[0];
  data.value = "";
  taken.value = "";
  preview.hidden = true;
  preview.removeAttribute("src");
  photoError(field, "");
  if (!file) return;
  // No submit until the image is in the form (a tap meanwhile would send none).
  const buttons = input.form ? input.form.querySelectorAll("button[type=submit]") : [];
  buttons.forEach((button) => { button.disabled = true; });
  try {
    let image = file;
    if (!(/^image\/(jpeg|png)$/.test(file.type) && file.size <= MAX_PHOTO_BYTES)) {
      if (file.type && !file.type.startsWith("image/")) throw new PhotoRefused(PHOTO_NOT_AN_IMAGE);
      image = await shrinkPhoto(file);
    }
    const url = await readAsDataURL(image);
    data.value = url.slice(url.indexOf(",") + 1);
    // A camera shot's time; never later than now (intake refuses a future time).
    const at = file.lastModified && file.lastModified <= Date.now() ? file.lastModified : Date.now();
    taken.value = new Date(at).toISOString();
    preview.src = url;
    preview.hidden = false;
  } catch (e) {
    photoError(field, e instanceof PhotoRefused ? e.message : PHOTO_NOT_AN_IMAGE);
  } finally {
    buttons.forEach((button) => { button.disabled = false; });
  }
}

function initPhotos(root) {
  root.querySelectorAll("[data-photo-field]").forEach((field) => {
    field.querySelector("[data-photo-input]").addEventListener("change", () => photoChosen(field));
  });
}

// ---- admissions sent through the page, kept on the device when offline -----------
// The admission form is posted with fetch(): a refusal comes back as the form with
// the service's words next to the fields (swapped in, nothing typed lost); with no
// network (navigator.onLine false, or the fetch itself failing) the admission is kept
// in IndexedDB with the form's Idempotency-Key and sent when the network is back (the
// `online` event, or the next page of the console that loads), with the same key:
// intake answers a re-send as the first, so nobody is admitted twice.
const DB_NAME = "rescue-console";
const STORE = "pending-admissions";
const SAVED_WORDS = "已保存在本机，联网后自动提交";

function database() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "key" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function pending(mode, action) {
  const db = await database();
  try {
    return await new Promise((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const request = action(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(request ? request.result : undefined);
      transaction.onerror = () => reject(transaction.error);
    });
  } finally {
    db.close();
  }
}

const pendingAll = () => pending("readonly", (store) => store.getAll());
const pendingPut = (record) => pending("readwrite", (store) => store.put(record));
const pendingDelete = (key) => pending("readwrite", (store) => store.delete(key));

function signedInUser() {
  return document.body.dataset.user || "";
}

function sessionCsrf() {
  const field = document.querySelector("form[action='/signout'] input[name=csrf]");
  return field ? field.value : "";
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function beijingNow() {
  // <input type=datetime-local> in Beijing time, whatever the device's zone.
  return new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 16);
}

const sentOffline = [];

async function showPending() {
  const box = document.getElementById("pending-admissions");
  if (!box || !window.indexedDB) return;
  let records = [];
  try {
    records = await pendingAll();
  } catch (e) {
    return;
  }
  const mine = records.filter((r) => r.user === signedInUser());
  const waiting = mine.filter((r) => !r.refused);
  const refused = mine.filter((r) => r.refused);
  box.replaceChildren();
  if (waiting.length) {
    const line = document.createElement("p");
    line.textContent = `${SAVED_WORDS}：待提交 ${waiting.length} 份登记（${waiting.map((r) => r.label).join("、")}）`;
    line.dataset.testid = "pending-count";
    box.append(line);
  }
  refused.forEach((record) => {
    const line = document.createElement("p");
    const link = document.createElement("a");
    link.href = `/admissions/new?pending=${encodeURIComponent(record.key)}`;
    link.textContent = "打开修改";
    line.append(`离线登记（${record.label}）未被接受，`, link);
    box.append(line);
  });
  sentOffline.forEach((sent) => {
    const line = document.createElement("p");
    const link = document.createElement("a");
    link.href = sent.url;
    link.textContent = sent.label;
    line.append("离线登记已提交：", link);
    box.append(line);
  });
  if (records.length > mine.length) {
    const line = document.createElement("p");
    line.textContent = `本机另有 ${records.length - mine.length} 份其他人员的离线登记，须由其本人登录后提交。`;
    box.append(line);
  }
  box.hidden = !box.childElementCount;
}

async function keepOffline(form, body) {
  body.delete("csrf");  // the session's; a re-send carries the page's current one
  if (!body.get("arrived_at")) body.set("arrived_at", beijingNow());  // not the send time
  const names = (body.get("stated_names") || body.get("full_name") || "").trim();
  await pendingPut({
    key: body.get("idempotency_key"),
    body: body.toString(),
    label: names || "姓名不详",
    user: signedInUser(),
    savedAt: Date.now(),
  });
  // A fresh form for the next person, with a key of its own.
  form.querySelectorAll("input, textarea, select").forEach((field) => {
    if (field.name === "csrf") return;
    if (field.type === "checkbox" || field.type === "radio") field.checked = false;
    else if (field.tagName === "SELECT") field.selectedIndex = 0;
    else field.value = "";
  });
  form.querySelector("input[name=idempotency_key]").value = newKey();
  form.querySelectorAll("[data-photo-preview]").forEach((img) => { img.hidden = true; });
  showRouteFields();
  form.querySelectorAll("button[type=submit]").forEach((button) => { button.disabled = false; });
  await showPending();
  const box = document.getElementById("pending-admissions");
  if (box) box.focus();
}

function swapMain(html) {
  const next = new DOMParser().parseFromString(html, "text/html");
  const main = next.querySelector("main");
  if (!main) return false;
  document.querySelector("main").replaceWith(document.adoptNode(main));
  document.title = next.title;
  if (window.htmx) window.htmx.process(document.querySelector("main"));  // its suggestions
  initPage(document.querySelector("main"));
  return true;
}

async function submitAdmission(form, after) {
  const body = new URLSearchParams(new FormData(form));
  if (!navigator.onLine) return keepOffline(form, body);
  let response;
  try {
    response = await fetch(form.action, { method: "POST", body, credentials: "same-origin" });
  } catch (e) {
    return keepOffline(form, body);  // no network on the way
  }
  if (after) await after();
  if (response.redirected) {
    window.location.assign(response.url);
  } else if (!swapMain(await response.text())) {
    window.location.reload();
  }
}

let flushing = false;

async function flushPending() {
  if (flushing || !navigator.onLine || !window.indexedDB || !sessionCsrf()) return;
  flushing = true;
  try {
    const mine = (await pendingAll()).filter((r) => r.user === signedInUser() && !r.refused);
    for (const record of mine) {
      const body = new URLSearchParams(record.body);
      body.set("csrf", sessionCsrf());
      let response;
      try {
        response = await fetch("/admissions", { method: "POST", body, credentials: "same-origin" });
      } catch (e) {
        break;  // still no network: the next `online`
      }
      const path = new URL(response.url).pathname;
      if (response.redirected && path.startsWith("/persons/")) {
        await pendingDelete(record.key);
        sentOffline.push({ label: record.label, url: new URL(response.url).pathname });
      } else if (response.status === 422) {
        record.refused = true;  // the service said what to change: staff open it
        await pendingPut(record);
      } else {
        break;  // signed out, in progress (409) or the service down: later
      }
    }
  } finally {
    flushing = false;
    await showPending();
  }
}

function sendPendingOnce() {
  // One tab at a time sends (the key would make a second harmless, but quiet is better).
  if (navigator.locks) {
    navigator.locks.request("rescue-console-pending", { ifAvailable: true }, (lock) => (lock ? flushPending() : null));
  } else {
    flushPending();
  }
}

async function reopenRefused(form) {
  const key = new URLSearchParams(window.location.search).get("pending");
  if (!key || !window.indexedDB) return;
  const record = (await pendingAll()).find((r) => r.key === key && r.user === signedInUser());
  if (!record) return;
  const body = new URLSearchParams(record.body);
  body.forEach((value, name) => {
    form.querySelectorAll(`[name="${CSS.escape(name)}"]`).forEach((field) => {
      if (field.type === "checkbox" || field.type === "radio") {
        if (field.value === value) field.checked = true;
      } else if (name !== "csrf") {
        field.value = value;
      }
    });
  });
  showRouteFields();
  // Sent again now: the form comes back with the service's words next to the fields,
  // and holds what was typed from then on.
  await submitAdmission(form, async () => {
    await pendingDelete(key);
    await showPending();
  });
}

function initPage(root) {
  initPhotos(root);
  if (root.querySelector("input[data-route-choice]")) {
    showRouteFields();
    root.querySelectorAll("input[data-route-choice]").forEach((radio) => {
      radio.addEventListener("change", showRouteFields);
    });
  }
  // A second tap while the first submit is on its way does nothing (the
  // Idempotency-Key makes it harmless anyway).
  root.querySelectorAll("form").forEach((form) => {
    if (form.matches("form[data-offline]") && window.fetch && window.indexedDB) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        form.querySelectorAll("button[data-once]").forEach((button) => { button.disabled = true; });
        submitAdmission(form);
      });
      return;
    }
    form.addEventListener("submit", () => {
      form.querySelectorAll("button[data-once]").forEach((button) => {
        setTimeout(() => { button.disabled = true; }, 0);
      });
    });
  });
  const summary = root.querySelector("#error-summary");
  if (summary) summary.focus();
}

document.addEventListener("DOMContentLoaded", () => {
  initPage(document);
  showPending();
  sendPendingOnce();
  window.addEventListener("online", sendPendingOnce);
  const form = document.querySelector("form[data-offline]");
  if (form) reopenRefused(form);
});

// ---- suggestions while typing (ARIA combobox) ----------------------------------------
// htmx asks /suggest/<kind> as the user types and swaps the options into the field's
// listbox; here the listbox opens and closes, the arrow keys move through the options
// (aria-activedescendant: the focus stays in the input), Enter or a tap chooses one,
// Escape closes. Choosing fills the field (in a list, the item being typed) and, for a
// place, the code field named by data-suggest-code.
function suggestListbox(input) {
  return document.getElementById(input.getAttribute("aria-controls"));
}

function suggestOptions(listbox) {
  return Array.from(listbox.querySelectorAll("[role=option]:not([aria-disabled=true])"));
}

function suggestActive(input) {
  const id = input.getAttribute("aria-activedescendant");
  return id ? document.getElementById(id) : null;
}

function suggestOpen(input, open) {
  const listbox = suggestListbox(input);
  const show = open && listbox.childElementCount > 0;
  listbox.hidden = !show;
  input.setAttribute("aria-expanded", String(show));
  if (!show) suggestActivate(input, null);
}

function suggestActivate(input, option) {
  suggestListbox(input).querySelectorAll("[aria-selected=true]").forEach((o) => {
    o.setAttribute("aria-selected", "false");
  });
  if (option) {
    option.setAttribute("aria-selected", "true");
    input.setAttribute("aria-activedescendant", option.id);
    option.scrollIntoView({ block: "nearest" });
  } else {
    input.removeAttribute("aria-activedescendant");
  }
}

function suggestChoose(input, option) {
  const value = option.dataset.value || "";
  if (input.hasAttribute("data-suggest-many")) {
    const cut = Math.max(...[",", "，", "、", ";", "；", "\n"].map((s) => input.value.lastIndexOf(s)));
    input.value = input.value.slice(0, cut + 1) + value;
  } else {
    input.value = value;
  }
  const codeField = input.dataset.suggestCode && document.getElementById(input.dataset.suggestCode);
  if (codeField && option.dataset.code) codeField.value = option.dataset.code;
  suggestOpen(input, false);
  input.focus();
}

function suggestStatus(input, words) {
  const status = input.parentElement.querySelector("[data-suggest-status]");
  if (status) status.textContent = words;
}

document.addEventListener("htmx:afterSwap", (event) => {
  const listbox = event.detail.target;
  if (!listbox || !listbox.matches("ul.suggestions")) return;
  const input = document.querySelector(`[aria-controls="${CSS.escape(listbox.id)}"]`);
  if (!input) return;
  suggestOpen(input, document.activeElement === input);
  const count = suggestOptions(listbox).length;
  suggestStatus(input, count ? `${count} 条建议，上下方向键选择，回车确认` : (listbox.textContent.trim() || ""));
});

document.addEventListener("keydown", (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || !input.hasAttribute("data-suggest")) return;
  const listbox = suggestListbox(input);
  const options = suggestOptions(listbox);
  const active = suggestActive(input);
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    if (!options.length) return;
    event.preventDefault();
    if (listbox.hidden) suggestOpen(input, true);
    const at = options.indexOf(active);
    const step = event.key === "ArrowDown" ? 1 : -1;
    const next = at < 0 ? (step > 0 ? 0 : options.length - 1) : (at + step + options.length) % options.length;
    suggestActivate(input, options[next]);
  } else if (event.key === "Enter" && !listbox.hidden && active) {
    event.preventDefault();  // choosing, not submitting the form
    suggestChoose(input, active);
  } else if (event.key === "Escape" && !listbox.hidden) {
    event.preventDefault();
    suggestOpen(input, false);
  }
});

// A tap or click chooses; pressing first keeps the focus in the input.
document.addEventListener("mousedown", (event) => {
  if (event.target.closest && event.target.closest("ul.suggestions")) event.preventDefault();
});

document.addEventListener("click", (event) => {
  const option = event.target.closest && event.target.closest("ul.suggestions [role=option]");
  if (!option || option.getAttribute("aria-disabled") === "true") return;
  const input = document.querySelector(`[aria-controls="${CSS.escape(option.parentElement.id)}"]`);
  if (input) suggestChoose(input, option);
});

document.addEventListener("focusout", (event) => {
  const input = event.target;
  if (input instanceof HTMLInputElement && input.hasAttribute("data-suggest")) suggestOpen(input, false);
});

// ---- returns (返乡): the escort planner's rules as the user plans, and the receiver's
// signature drawn on a canvas (pointer events: a finger, a pen or a mouse) ----
function escortRules(form) {
  const list = form.querySelector("[data-escort-rules]");
  if (!list) return;
  const value = (row, end) => { const f = row.querySelector(`[name$='${end}']`); return f ? f.value.trim() : ""; };
  const chosen = [...form.querySelectorAll("input[name=return_ids]:checked")];
  const staff = [...form.querySelectorAll("[data-staff-row]")]
    .map((row) => ({ name: value(row, ".name"), sex: value(row, ".sex"), role: value(row, ".role") }))
    .filter((m) => m.name);
  const escorts = staff.filter((m) => m.role === "escort" || m.role === "medical");
  const legs = [...form.querySelectorAll("[data-leg-row]")]
    .map((row) => ({ origin: value(row, ".origin"), destination: value(row, ".destination"), departs: value(row, ".planned_departure_at") }))
    .filter((leg) => leg.origin || leg.destination || leg.departs);
  // [applies, met], as the service's rules (it still decides)
  const rules = {
    escort: [true, escorts.length > 0],
    female: [chosen.some((b) => b.dataset.sex === "female"), escorts.some((m) => m.sex === "female")],
    medical: [chosen.some((b) => b.dataset.medical === "yes"), staff.some((m) => m.role === "medical")],
    province: [new Set(chosen.map((b) => b.dataset.province)).size > 1, false],
    legs: [true, legs.every((leg, i) => i === 0 || legs[i - 1].destination === leg.origin)],
  };
  list.querySelectorAll("li[data-rule]").forEach((item) => {
    const [applies, met] = rules[item.dataset.rule] || [false, false];
    item.hidden = !applies;
    item.className = met ? "met" : "unmet";
    item.querySelector("[data-rule-state]").textContent = met ? "✓ 已满足" : "✗ 未满足";
  });
}

function initSignaturePad(canvas) {
  const field = canvas.closest("[data-signature-field]");
  const data = field.querySelector("[data-signature-data]");
  const pen = canvas.getContext("2d");
  const blank = () => {
    pen.fillStyle = "#fff";
    pen.fillRect(0, 0, canvas.width, canvas.height);
    pen.lineWidth = 4; pen.lineCap = "round"; pen.lineJoin = "round"; pen.strokeStyle = "#000";
  };
  blank();
  if (data.value) {  // a refused handover keeps the signature already drawn
    const kept = new Image();
    kept.addEventListener("load", () => pen.drawImage(kept, 0, 0));
    kept.src = "data:image/png;base64," + data.value;
  }
  let drawing = false;
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
  };
  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    pen.beginPath();
    pen.moveTo(...at(event));
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    event.preventDefault();
    pen.lineTo(...at(event));
    pen.stroke();
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    data.value = canvas.toDataURL("image/png").split(",")[1];  // transfer takes base64 PNG
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  field.querySelector("[data-signature-clear]").addEventListener("click", () => { blank(); data.value = ""; });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-escort-planner]").forEach((form) => {
    escortRules(form);
    form.addEventListener("input", () => escortRules(form));
    form.addEventListener("change", () => escortRules(form));
  });
  document.querySelectorAll("canvas[data-signature-pad]").forEach(initSignaturePad);
});
