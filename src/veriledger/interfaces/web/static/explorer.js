// The explorer: reads the node's API and, on request, verifies a receipt locally.
// Nothing the node says is trusted for the verdict: the receipt is checked against
// the consortium policy with WebCrypto by tlog-verify.js.
import { verifyReceipt } from "./tlog-verify.js";

const $ = (sel) => document.querySelector(sel);
const api = async (path) => {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${(await res.json()).detail ?? ""}`);
  return res.json();
};
const text = async (path) => {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.text();
};
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const when = (ms) => new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
const short = (hex) => `${hex.slice(0, 12)}…`;

async function loadSummary() {
  const [health, checkpoint, orgs] = await Promise.all([
    api("/healthz"), api("/api/v1/checkpoint"), api("/api/v1/organisations"),
  ]);
  $("#chain").textContent = `chain ${health.chain}`;
  $("#summary").innerHTML = [
    ["height", health.height], ["log entries", health.size],
    ["organisations", orgs.length], ["pending", health.pending],
  ].map(([k, v]) => `<div class="card">${k}<b>${esc(v)}</b></div>`).join("");
  const signers = checkpoint.cosigners.map((c) => esc(c.org)).join(", ");
  $("#checkpoint").innerHTML = `
    <div>size <b>${checkpoint.size}</b> at block ${checkpoint.height},
      <span class="${checkpoint.final ? "ok" : "bad"}">${checkpoint.final ? "final" : "not final"}</span></div>
    <div>signed by the log <code>${esc(checkpoint.log)}</code>; cosigned by
      <span id="checkpoint-cosigners">${signers}</span> (quorum ${esc(checkpoint.quorum)})</div>
    <div class="mono muted">root ${esc(checkpoint.root)}</div>`;
  $("#orgs").innerHTML = orgs.map((o) => `
    <div class="card"><b>${esc(o.name)}</b>${esc(o.kind)} · ${esc(o.country || "")}
      <div class="mono muted">${esc(o.id)}</div></div>`).join("");
}

async function loadCheckpoints() {
  const checkpoints = await api("/api/v1/checkpoints?limit=10");
  $("#checkpoints tbody").innerHTML = checkpoints.map((c) => `
    <tr data-size="${c.size}"><td>${c.size}</td><td>${c.height}</td>
      <td class="${c.final ? "ok" : "bad"}">${c.final ? "final" : "pending"}</td>
      <td>${c.cosigners.map((x) => esc(x.org)).join(", ")}</td>
      <td class="mono">${esc(c.root.slice(0, 16))}…</td></tr>`).join("");
}

async function loadBlocks() {
  const blocks = await api("/api/v1/blocks?limit=25");
  $("#blocks tbody").innerHTML = blocks.map((b) => `
    <tr data-height="${b.height}"><td>${b.height}</td><td>${when(b.time)}</td>
      <td>${b.tx_count}</td><td>${b.accepted}</td><td class="mono">${short(b.id)}</td></tr>`).join("");
  for (const row of document.querySelectorAll("#blocks tbody tr")) {
    row.addEventListener("click", () => showBlock(Number(row.dataset.height)));
  }
}

async function showBlock(height) {
  const block = await api(`/api/v1/blocks/${height}`);
  const h = block.header;
  $("#block-height").textContent = height;
  $("#block-header").innerHTML = `
    <div>time ${when(h.time)} · entries ${h.first_index}–${block.header_index} ·
      ${h.accepted} accepted, ${h.rejected.length} rejected</div>
    <div class="mono muted">prev ${esc(h.prev)}</div>
    <div class="mono muted">state root ${esc(h.state_root)}</div>`;
  $("#block-txs tbody").innerHTML = block.transactions.map((t) => `
    <tr data-tx="${t.id}"><td>${t.index}</td><td>${esc(t.type)}</td>
      <td class="${t.accepted ? "ok" : "bad"}">${t.accepted ? "accepted" : `rejected ${esc(t.code)}: ${esc(t.reason)}`}</td>
      <td class="mono">${short(t.id)}</td></tr>`).join("");
  for (const row of document.querySelectorAll("#block-txs tbody tr")) {
    row.addEventListener("click", () => showTx(row.dataset.tx));
  }
  $("#block-detail").hidden = false;
  $("#block-detail").scrollIntoView();
}

let currentTx = null;

async function showTx(id) {
  const tx = await api(`/api/v1/transactions/${id}`);
  currentTx = tx;
  const envelope = tx.transaction;
  $("#tx-summary").innerHTML = `
    <div><b>${esc(envelope.type)}</b> — ${esc(tx.status)}${tx.code ? ` (${esc(tx.code)}: ${esc(tx.reason)})` : ""}</div>
    <div>block ${tx.height}, log index ${tx.index}</div>
    <div class="mono muted">id ${esc(tx.id)}</div>
    <div class="mono muted">signer ${esc(envelope.signer)}</div>`;
  $("#tx-json").textContent = JSON.stringify(envelope, null, 2);
  $("#receipt-link").href = tx.receipt;
  $("#verify-result").hidden = true;
  $("#tx-detail").hidden = false;
  $("#tx-detail").scrollIntoView();
}

async function verifyCurrent() {
  const out = $("#verify-result");
  out.hidden = false;
  out.dataset.status = "running";
  out.textContent = "verifying in this browser…";
  try {
    const [proof, policy] = await Promise.all([text(currentTx.receipt), text("/tlog/policy")]);
    const result = await verifyReceipt(proof, policy);
    const entry = JSON.parse(new TextDecoder().decode(result.entry));
    if (entry.sig !== currentTx.transaction.sig) throw new Error("the receipt proves another transaction");
    out.dataset.status = "ok";
    out.innerHTML = `<b class="ok">✔ Verified in your browser.</b>
      Entry ${result.index} is in <code>${esc(result.origin)}</code> at size ${result.size},
      under a checkpoint signed by the log and cosigned by ${esc(result.cosigners.join(", "))}:
      quorum ${esc(result.quorum)} met.`;
  } catch (err) {
    out.dataset.status = "fail";
    out.innerHTML = `<b class="bad">✘ Verification failed:</b> ${esc(err.message)}`;
  }
}

$("#verify").addEventListener("click", verifyCurrent);
await loadSummary();
await Promise.all([loadCheckpoints(), loadBlocks()]);
document.body.dataset.ready = "true";
