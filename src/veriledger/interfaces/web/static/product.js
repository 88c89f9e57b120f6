// The product "ID card": the item's journey, its recall status, and a proof check of
// every step done in this browser (tlog-verify.js), trusting nothing the server says
// about the proofs themselves.
import { verifyReceipt } from "./tlog-verify.js";

const T = {
  en: {
    print: "Print", authenticity: "Is it genuine?", enterCode: "Scratch the label and enter the code",
    check: "Check", journey: "Journey", crossBorder: "Cross-border", proof: "Proof",
    origins: "Made from", ingredient: "Ingredient", lot: "lot",
    checking: "Checking every step against the ledger in this browser…",
    footer: "Each step is a signed entry in a consortium ledger; your browser checks its proof against a checkpoint cosigned by the organisations, trusting no server.",
    verifiedBrand: "Brand verified", unverifiedBrand: "Brand not verified",
    recalled: "RECALLED", by: "by", at: "at", customs: "Customs / bonded port",
    proofOk: (n, q) => `✔ Verified: all ${n} steps are in the ledger, under a checkpoint cosigned by ${q}.`,
    proofFail: (e) => `✘ A step failed verification: ${e}`,
    proofUnavailable: (e) => `✘ Not verified: ${e}. The steps shown are unproven.`,
    proofNone: "Nothing to verify: no steps are recorded yet.",
    noSteps: "No steps recorded yet.",
    unknownItem: "⚠ Unknown item: its brand never registered this serial number on the ledger. It may be a counterfeit.",
    checksLine: (n, when, where) => `This code has been checked ${n === 1 ? "once" : `${n} times`}${when ? `, first on ${when}` : ""}${where ? ` in ${where}` : ""}.`,
    checksNote: "If that was not you, this item may be a copy.",
    tooMany: (s) => `Too many checks from your network. Try again in ${s} s.`,
    failed: (e) => `The check could not be done: ${e}`,
  },
  zh: {
    print: "打印", authenticity: "是正品吗？", enterCode: "刮开标签涂层，输入验证码",
    check: "查验", journey: "溯源旅程", crossBorder: "跨境信息", proof: "证明",
    origins: "原料来源", ingredient: "原料", lot: "批次",
    checking: "正在本浏览器中逐步核验账本证明…",
    footer: "每一步都是联盟账本中由执行方签名的记录；您的浏览器根据各组织共同签署的检查点核验证明，不依赖任何服务器。",
    verifiedBrand: "品牌已认证", unverifiedBrand: "品牌未认证",
    recalled: "已召回", by: "执行方", at: "地点", customs: "海关 / 保税港",
    proofOk: (n, q) => `✔ 已核验：全部 ${n} 个步骤均在账本中，检查点由 ${q} 共同签署。`,
    proofFail: (e) => `✘ 有步骤核验失败：${e}`,
    proofUnavailable: (e) => `✘ 未能核验：${e}。所示步骤未经证明。`,
    proofNone: "无需核验：暂无记录。",
    noSteps: "暂无记录。",
    unknownItem: "⚠ 未知商品：品牌方从未在账本上登记该序列号，可能是假冒商品。",
    checksLine: (n, when, where) => `此验证码已被查验 ${n} 次${when ? `，首次于 ${when}` : ""}${where ? ` 在 ${where}` : ""}。`,
    checksNote: "如非本人查验，此商品可能是仿冒品。",
    tooMany: (s) => `您所在网络的查验次数过多，请 ${s} 秒后再试。`,
    failed: (e) => `未能完成查验：${e}`,
  },
};

const $ = (s) => document.querySelector(s);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const params = new URLSearchParams(location.search);
const wanted = params.get("lang") || navigator.language || "en";
let lang = wanted.toLowerCase().startsWith("zh") ? "zh" : "en";
let view = null;
let proofState = null;

function applyLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const el of document.querySelectorAll("[data-i18n]")) {
    const text = T[lang][el.dataset.i18n];
    if (typeof text === "string") el.textContent = text;
  }
  $("#lang").textContent = lang === "zh" ? "English" : "中文";
  showProofLine();
  if (view) render();
}

function uriOfThisPage() {
  const url = new URL(location.href);
  url.searchParams.delete("lang");
  return url.origin + url.pathname + (url.search ? url.search : "");
}

function originName(o) {
  const name = (lang === "zh" && o.name_zh) || o.name || o.gtin;
  return o.lot ? `${name}, ${T[lang].lot} ${o.lot}` : name;
}

function render() {
  const t = T[lang];
  const p = view.product || {};
  $("#product-name").textContent = (lang === "zh" && p.name_zh) || p.name || view.hri;
  $("#product-meta").textContent = [p.brand || view.brand.name, p.category, p.country_of_origin]
    .filter(Boolean).join(" · ");
  $("#hri").textContent = view.hri;  // the scanned link's element strings, serial included
  // A serial the brand never brought into being is an unknown item, not "brand verified",
  // whatever its GTIN's prefix: the warning takes the brand line's place.
  const brand = $("#brand-status");
  const unknown = view.registered === false;
  brand.dataset.state = unknown ? "unknown-item" : view.brand.verified ? "verified" : "unverified";
  brand.className = unknown ? "badge-bad" : view.brand.verified ? "badge-ok" : "badge-warn";
  brand.setAttribute("role", unknown ? "alert" : "status");
  brand.textContent = unknown ? t.unknownItem
    : view.brand.verified ? `✔ ${t.verifiedBrand}: ${view.brand.name}` : `⚠ ${t.unverifiedBrand}`;
  const checks = view.checks;
  $("#checks").hidden = !(checks && checks.count > 0);
  if (checks && checks.count > 0) {
    const when = checks.first_time
      ? new Date(checks.first_time).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB") : "";
    $("#checks").textContent = `${t.checksLine(checks.count, when, checks.first_place)} ${t.checksNote}`;
  }
  const banner = $("#recall-banner");
  banner.hidden = view.recalls.length === 0;
  banner.innerHTML = view.recalls.map((r) =>
    `${t.recalled}: ${esc(r.reason)} (${esc(r.org)}, ${esc(r.time.slice(0, 10))})`).join("<br>");
  const list = $("#journey");
  list.innerHTML = view.journey.length ? view.journey.map((s, i) => {
    const place = s.place ? ((lang === "zh" && s.place.name_zh) || s.place.name || s.place.id) : "";
    const country = s.place && s.place.country ? ` (${esc(s.place.country)})` : "";
    return `<li data-step="${esc(s.step)}" data-index="${i}" data-proof="${proofState?.[i] ?? "pending"}">
      <strong>${esc(s.label[lang] || s.step)}</strong>
      <div>${esc(t.by)} ${esc(s.org.name || s.org.id)}${place ? ` · ${esc(t.at)} ${esc(place)}${country}` : ""}</div>
      <div class="when">${esc(new Date(s.time).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB"))}</div>
      ${s.origin ? `<div class="ingredient">${esc(t.ingredient)}: ${esc(originName(s.origin))}</div>` : ""}
      ${s.crossBorder ? `<div class="cb">${esc(t.customs)}</div>` : ""}
    </li>`;
  }).join("") : `<li>${t.noSteps}</li>`;
  const origins = view.origins || [];
  $("#origins").hidden = origins.length === 0;
  $("#origins-list").innerHTML = origins.map((o) =>
    `<li><a href="${esc(o.link)}?lang=${lang}">${esc(originName(o))}</a></li>`).join("");
  const cross = view.journey.filter((s) => s.crossBorder);
  $("#cross-border").hidden = cross.length === 0;
  $("#cross-border-list").innerHTML = cross.map((s) =>
    `<li>${esc(s.label[lang])} — ${esc(s.org.name)}${s.place ? `, ${esc((lang === "zh" && s.place.name_zh) || s.place.name)}` : ""} (${esc(s.time.slice(0, 10))})</li>`).join("");
}

async function drawMap() {
  const stops = [];
  for (const s of view.journey) {
    if (!s.place || !s.place.lat) continue;
    const stop = { lat: Number(s.place.lat), lon: Number(s.place.lon), label: s.place.name, time: s.time };
    const last = stops[stops.length - 1];
    if (!last || last.lat !== stop.lat || last.lon !== stop.lon) stops.push(stop);
  }
  try {
    const { drawJourney } = await import("./journey-map.js");
    await drawJourney($("#map"), stops);
  } catch (err) {
    $("#map").hidden = stops.length === 0;
    console.warn("map unavailable:", err.message);
  }
}

// What a step shows must be what its receipt proves: the entry hashes to the
// transaction the step names, and its event has the step's time, type and bizStep.
const STEP_PREFIXES = ["https://ref.gs1.org/cbv/BizStep-", "urn:epcglobal:cbv:bizstep:", "urn:veriledger:bizstep:"];
const bareStep = (s) => STEP_PREFIXES.reduce((v, p) => (v.startsWith(p) ? v.slice(p.length) : v), s || "");

async function checkStepIsTheEntry(step, entryBytes, i) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", entryBytes));
  const txId = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  const entry = JSON.parse(new TextDecoder().decode(entryBytes));
  const event = entry.body && entry.body.event;
  const same = entry.type === "trace.capture" && event
    && step.receipt === `/api/v1/transactions/${txId}/receipt`
    && event.eventTime === step.time && event.type === step.type
    && bareStep(event.bizStep) === step.step
    && (!event.eventID || event.eventID === step.eventID);
  if (!same) throw new Error(`step ${i + 1}: the receipt proves another fact`);
}

// Every fetch gives up after FETCH_MS, and the whole proof after PROOF_MS: the proof
// line always ends with a verdict, never "checking…" forever.
const FETCH_MS = 15_000;
const PROOF_MS = 90_000;

class Unavailable extends Error {}

async function fetchOk(url, what) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), FETCH_MS);
  try {
    const res = await fetch(url, { signal: abort.signal });
    if (!res.ok) throw new Unavailable(`${what} is unavailable (HTTP ${res.status})`);
    return await res.text();
  } catch (err) {
    if (err instanceof Unavailable) throw err;
    throw new Unavailable(`${what} could not be fetched (${abort.signal.aborted ? "timed out" : err.message})`);
  } finally {
    clearTimeout(timer);
  }
}

// The proof line's verdict, kept so that switching language shows it again (not
// "checking…").
let proofLine = { state: "pending", key: "checking", args: [] };

function showProofLine() {
  const status = $("#proof-status");
  const text = T[lang][proofLine.key];
  status.dataset.status = proofLine.state;
  status.textContent = typeof text === "function" ? text(...proofLine.args) : text;
}

function proofVerdict(state, key, ...args) {
  proofLine = { state, key, args };
  showProofLine();
}

async function proveSteps() {
  const policy = await fetchOk(view.policy, "the consortium's policy");
  let quorum = "";
  for (const [i, step] of view.journey.entries()) {
    const receipt = await fetchOk(step.receipt, `the receipt of step ${i + 1}`);
    const result = await verifyReceipt(receipt, policy);
    await checkStepIsTheEntry(step, result.entry, i);
    proofState[i] = "ok";
    quorum = `${result.cosigners.length} of ${result.quorum.match(/of (\d+)/)?.[1] ?? "?"} organisations (${result.cosigners.join(", ")})`;
  }
  return quorum;
}

async function verifyJourney() {
  proofState = view.journey.map(() => "pending");
  if (!view.journey.length) { proofVerdict("none", "proofNone"); return; }
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Unavailable("the proof took too long")), PROOF_MS);
  });
  try {
    const quorum = await Promise.race([proveSteps(), deadline]);
    proofVerdict("ok", "proofOk", view.journey.length, quorum);
  } catch (err) {
    const unavailable = err instanceof Unavailable;
    proofVerdict(unavailable ? "unavailable" : "fail",
      unavailable ? "proofUnavailable" : "proofFail", err.message);
    proofState = proofState.map((s) => (s === "ok" ? "ok" : "fail"));
  } finally {
    clearTimeout(timer);
  }
  render();
}

// A check's answer, whatever came back: a verdict, a refusal (429: wait), or an error.
async function showAnswer(out, request) {
  let body = null;
  let res = null;
  try {
    res = await request;
    body = await res.json();
  } catch (err) {
    body = null;
  }
  out.hidden = false;
  if (res && res.status === 429) {
    out.dataset.verdict = "too-many";
    out.textContent = T[lang].tooMany(res.headers.get("Retry-After") || "60");
  } else if (body && body.verdict && body.message) {
    out.dataset.verdict = body.verdict;
    out.textContent = body.message[lang] || body.message.en;
  } else {
    out.dataset.verdict = "error";
    out.textContent = T[lang].failed((body && body.detail) || (res ? `HTTP ${res.status}` : "no answer"));
  }
}

async function checkCode(event) {
  event.preventDefault();
  const button = $("#verify-form button");
  button.disabled = true;
  try {
    await showAnswer($("#verdict"), fetch("/api/v1/items/verify", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ uri: view.uri, code: $("#code").value.trim() }),
    }));
  } finally {
    button.disabled = false;
  }
}

// An NFC tag's URL carries its SUN message (PICCData and MAC); the node checks it.
const SUN_MAC = params.get("cmac") || params.get("c");

async function checkTap() {
  await showAnswer($("#tap-verdict"), fetch("/api/v1/items/tap", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ uri: uriOfThisPage() }),
  }));
}

async function loadView() {
  let res;
  try {
    res = await fetch(`/api/v1/items?uri=${encodeURIComponent(uriOfThisPage())}`);
    const body = await res.json();
    if (res.ok) return body;
    $("#product-name").textContent = body.detail || "Unknown item";
  } catch (err) {
    $("#product-name").textContent = res ? `HTTP ${res.status}` : err.message;
  }
  proofVerdict("unavailable", "proofUnavailable", "the item's data is unavailable");
  return null;
}

async function main() {
  $("#lang").addEventListener("click", () => { lang = lang === "zh" ? "en" : "zh"; applyLanguage(); });
  $("#print").addEventListener("click", () => window.print());
  view = await loadView();
  if (!view) return;
  applyLanguage();
  render();
  if (view.authenticity || view.checks?.count > 0) $("#authenticity").hidden = false;
  if (view.authenticity) {
    $("#verify-form").addEventListener("submit", checkCode);
  } else {
    $("#verify-form").hidden = true;
  }
  if (SUN_MAC) {
    $("#authenticity").hidden = false;
    await checkTap();
  }
  await drawMap();
  document.body.dataset.ready = "true";
  await verifyJourney();
}

main().catch((err) => {
  // Whatever broke, the proof line ends with a verdict.
  if ($("#proof-status").dataset.status === "pending") {
    proofVerdict("unavailable", "proofUnavailable", err.message);
  }
}).finally(() => { document.body.dataset.ready = "true"; });
