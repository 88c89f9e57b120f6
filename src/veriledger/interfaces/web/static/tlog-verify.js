/**
 * Offline verification of a Veriledger receipt (a C2SP tlog-proof) in the browser.
 *
 * A receipt is only worth something if the person holding it can check it without
 * trusting whoever handed it over, so everything here runs locally: WebCrypto for
 * SHA-256 and Ed25519, and parsers as strict as the Python reference
 * (veriledger.log.note, .checkpoint, .cosignature, .policy, .tlog_proof, .verify).
 * Messages follow the Python ones so a receipt rejected in the browser and on the
 * command line is rejected for the same stated reason.
 *
 * Inputs may be strings, Uint8Arrays or ArrayBuffers. Bytes are preferred: the
 * formats are defined over octets, and a string has already been decoded by
 * someone. Integers that may be uint64 (sizes, indexes, timestamps) are parsed as
 * BigInt; verifyReceipt hands them back as Numbers when that is exact.
 *
 * WebCrypto exists only in secure contexts: https, or http on localhost/127.0.0.1.
 */

const SIGNATURE_PREFIX = "\u2014 ";
const PROOF_HEADER = "c2sp.org/tlog-proof@v1";
const COSIGNATURE_HEADER = "cosignature/v1\n";
const SIG_TYPE_ED25519 = 0x01;
const SIG_TYPE_COSIGNATURE_V1 = 0x04;
const HASH_SIZE = 32;
const MAX_NOTE_SIZE = 1 << 20;
const MAX_SIGNATURES = 100;
const MAX_PROOF_HASHES = 64;
const MAX_POLICY_ENTRIES = 1024;
const UINT64_MAX = (1n << 64n) - 1n;
const MAX_TIMESTAMP = (1n << 63n) - 1n;
const NONE = "none";

const encoder = new TextEncoder();
/** ignoreBOM keeps a leading U+FEFF as text, as Python's "utf-8" codec does. */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

// --- encodings --------------------------------------------------------------------------

function toBytes(input, what) {
  if (typeof input === "string") {
    // A lone surrogate has no UTF-8 form; silently turning it into U+FFFD would
    // verify different bytes from the ones the caller meant.
    if (!input.isWellFormed()) throw new Error(`${what} is not well-formed Unicode text`);
    return encoder.encode(input);
  }
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) {
    return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  }
  throw new TypeError(`${what} must be a string, Uint8Array or ArrayBuffer`);
}

function decodeUtf8(bytes, message) {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new Error(message);
  }
}

/**
 * UTF-8 with each undecodable octet kept as U+DC80..U+DCFF (Python's
 * "surrogateescape"). Policy names are opaque octet strings: two different byte
 * strings must stay two different names even when they are not UTF-8.
 */
function decodeSurrogateEscape(bytes) {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    // fall through to the octet-by-octet path
  }
  let out = "";
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i];
    // sequence length from the lead octet; 0 for octets no sequence starts with
    const n =
      lead < 0x80 ? 1 : lead < 0xc2 ? 0 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : lead < 0xf5 ? 4 : 0;
    if (n && i + n <= bytes.length) {
      try {
        out += strictUtf8.decode(bytes.subarray(i, i + n));
        i += n;
        continue;
      } catch {
        // not a valid sequence: escape the lead octet and resynchronise
      }
    }
    out += String.fromCharCode(0xdc00 + lead);
    i += 1;
  }
  return out;
}

function b64encode(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * Canonical base64 only: one value has exactly one accepted spelling, so a
 * signature or hash cannot be re-encoded into a "different" file that still verifies.
 */
function b64decodeStrict(text, what) {
  let binary;
  try {
    if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new Error();
    binary = atob(text);
  } catch {
    throw new Error(`${what} is not valid base64`);
  }
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  if (b64encode(bytes) !== text) throw new Error(`${what} is not canonical base64`);
  return bytes;
}

/** ASCII decimal, no sign, no leading zeros; BigInt because sizes are uint64. */
function parseDecimal(text, what, limit = UINT64_MAX) {
  if (!/^(0|[1-9][0-9]*)$/.test(text)) {
    throw new Error(`${what} '${text}' is not a decimal without leading zeros`);
  }
  const value = BigInt(text);
  if (value > limit) throw new Error(`${what} ${value} exceeds ${limit}`);
  return value;
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const hex8 = (n) => n.toString(16).padStart(8, "0");
const sameBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const bitLength = (n) => (n === 0n ? 0 : n.toString(2).length);
const bitCount = (n) => n.toString(2).replaceAll("0", "").length;
/** Numbers are friendlier to display code, but only where they are exact. */
const exact = (n) => (n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n);

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function subtle() {
  if (!globalThis.crypto?.subtle) {
    throw new Error("WebCrypto is unavailable: serve this page over https or from localhost");
  }
  return globalThis.crypto.subtle;
}

async function sha256(...parts) {
  return new Uint8Array(await subtle().digest("SHA-256", concat(...parts)));
}

// --- keys -------------------------------------------------------------------------------

/** Python's str.isspace() set, not JS \s: the two differ (U+0085, U+FEFF). */
const UNICODE_SPACE =
  /[\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

function isValidKeyName(name) {
  return (
    name.length > 0 &&
    name.isWellFormed() &&
    !name.includes("+") &&
    !UNICODE_SPACE.test(name) &&
    !/[\x00-\x1f]/.test(name)
  );
}

/** The key ID commits to name and type, so one Ed25519 key in two roles has two IDs. */
async function computeKeyId(name, type, publicKey) {
  const digest = await sha256(encoder.encode(name), Uint8Array.of(0x0a, type), publicKey);
  return new DataView(digest.buffer).getUint32(0);
}

/**
 * Parse a verifier key `<name>+<hex key ID>+base64(type || public key)`.
 * @returns {Promise<{name: string, keyId: number, type: number, publicKey: Uint8Array}>}
 */
export async function parseVkey(text) {
  const vkey = String(text).replace(/^\n+|\n+$/g, "");
  const first = vkey.indexOf("+");
  const second = first < 0 ? -1 : vkey.indexOf("+", first + 1);
  if (second < 0) {
    throw new Error(`vkey must have 3 '+'-separated fields, has ${first < 0 ? 1 : 2}`);
  }
  const name = vkey.slice(0, first);
  const idHex = vkey.slice(first + 1, second);
  if (!/^[0-9a-f]{8}$/.test(idHex)) {
    throw new Error(`vkey key ID '${idHex}' is not 8 lowercase hex digits`);
  }
  const raw = b64decodeStrict(vkey.slice(second + 1), "vkey key material");
  if (raw.length < 2) throw new Error("vkey key material is empty");
  const type = raw[0];
  const publicKey = raw.slice(1);
  if (type !== SIG_TYPE_ED25519 && type !== SIG_TYPE_COSIGNATURE_V1) {
    throw new Error(`unsupported signature type 0x${type.toString(16).padStart(2, "0")} in vkey`);
  }
  if (!isValidKeyName(name)) throw new Error(`invalid key name '${name}'`);
  if (publicKey.length !== 32) {
    throw new Error(`Ed25519 public key is ${publicKey.length} bytes, want 32`);
  }
  const keyId = await computeKeyId(name, type, publicKey);
  if (keyId !== parseInt(idHex, 16)) {
    throw new Error(
      `vkey key ID ${idHex} does not match its name and key (computed ${hex8(keyId)})`,
    );
  }
  return { name, keyId, type, publicKey };
}

const FIELD_P = (1n << 255n) - 19n;
const ORDER_8_Y = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
const SMALL_ORDER_Y = new Set([0n, 1n, ORDER_8_Y, FIELD_P - ORDER_8_Y, FIELD_P - 1n]);

/**
 * libsodium (PyNaCl, behind the Python reference) refuses small-order points as the
 * key or as R, and non-canonical keys; BoringSSL (Chromium's WebCrypto) does not, so
 * there the identity point as a "key" verifies a forged all-zero signature over any
 * message. The eight small-order points have these y coordinates (the x sign bit
 * is ignored); y >= p is a non-canonical encoding.
 */
function isWeakPoint(encoded) {
  let y = BigInt(encoded[31] & 0x7f);
  for (let i = 30; i >= 0; i--) y = (y << 8n) | BigInt(encoded[i]);
  return y >= FIELD_P || SMALL_ORDER_Y.has(y);
}

/** Imported once per key; a key WebCrypto refuses verifies nothing rather than throwing. */
const importedKeys = new WeakMap();

async function ed25519Verify(key, message, signature) {
  if (signature.length !== 64) return false;
  if (isWeakPoint(key.publicKey) || isWeakPoint(signature.subarray(0, 32))) return false;
  if (!importedKeys.has(key)) {
    importedKeys.set(
      key,
      subtle()
        .importKey("raw", key.publicKey, { name: "Ed25519" }, false, ["verify"])
        .catch(() => null),
    );
  }
  const cryptoKey = await importedKeys.get(key);
  if (cryptoKey === null) return false;
  return subtle().verify({ name: "Ed25519" }, cryptoKey, signature, message);
}

/**
 * cosignature/v1 signs "as of this time" rather than the bare note, so the
 * timestamp is inside the signature and cannot be moved without breaking it.
 */
async function cosignatureVerify(key, text, signature) {
  if (signature.length !== 72) return false;
  const timestamp = new DataView(signature.buffer, signature.byteOffset, 8).getBigUint64(0);
  if (timestamp > MAX_TIMESTAMP) return false;
  const header = encoder.encode(`${COSIGNATURE_HEADER}time ${timestamp}\n`);
  return ed25519Verify(key, concat(header, text), signature.subarray(8));
}

// --- signed notes -----------------------------------------------------------------------

/**
 * Split a signed note into its text and signature lines, checking the format only.
 * @returns {{text: string, signatures: {name: string, keyId: number, sig: Uint8Array}[]}}
 */
export function parseNote(input) {
  const data = toBytes(input, "note");
  if (data.length > MAX_NOTE_SIZE) {
    throw new Error(`note is ${data.length} bytes, the limit is ${MAX_NOTE_SIZE}`);
  }
  const decoded = decodeUtf8(data, "note is not valid UTF-8");
  const control = decoded.match(/[\x00-\x09\x0b-\x1f]/);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    throw new Error(`note contains control character U+${code}`);
  }
  if (!decoded.endsWith("\n")) throw new Error("note does not end with a newline");
  // The last blank line, not the first: the text itself may contain blank lines.
  const split = decoded.lastIndexOf("\n\n");
  if (split < 0) throw new Error("note has no blank line before its signatures");
  const text = decoded.slice(0, split + 1);
  const lines = decoded.slice(split + 2).split("\n").slice(0, -1);
  if (lines.length === 0) throw new Error("note has no signature lines");
  if (lines.length > MAX_SIGNATURES) {
    throw new Error(`note has ${lines.length} signatures, the limit is ${MAX_SIGNATURES}`);
  }
  const signatures = lines.map((line, i) => {
    const number = i + 1;
    if (!line.startsWith(SIGNATURE_PREFIX)) {
      throw new Error(`signature line ${number} does not start with '\u2014 '`);
    }
    const rest = line.slice(SIGNATURE_PREFIX.length);
    const space = rest.indexOf(" ");
    const name = space < 0 ? rest : rest.slice(0, space);
    const encoded = space < 0 ? "" : rest.slice(space + 1);
    if (space < 0 || !isValidKeyName(name) || encoded.includes(" ")) {
      throw new Error(`signature line ${number} is not '\u2014 <name> <base64>'`);
    }
    const raw = b64decodeStrict(encoded, `signature line ${number}`);
    if (raw.length < 5) throw new Error(`signature line ${number} is too short for a key ID`);
    const keyId = new DataView(raw.buffer).getUint32(0);
    return { name, keyId, sig: raw.slice(4) };
  });
  return { text, signatures };
}

// --- checkpoints ------------------------------------------------------------------------

/**
 * Parse checkpoint note text (the part of a signed note before the signatures).
 * Extension lines are tolerated, as the spec asks, but carry no meaning here.
 * @returns {{origin: string, size: bigint, rootHash: Uint8Array, extensions: string[]}}
 */
export function parseCheckpoint(noteText) {
  const decoded = decodeUtf8(toBytes(noteText, "checkpoint"), "checkpoint is not valid UTF-8");
  if (!decoded.endsWith("\n")) throw new Error("checkpoint does not end with a newline");
  const lines = decoded.slice(0, -1).split("\n");
  if (lines.length < 3) throw new Error(`checkpoint has ${lines.length} lines, want at least 3`);
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (!origin) throw new Error("checkpoint origin line is empty");
  if (extensions.some((line) => !line)) throw new Error("checkpoint has an empty extension line");
  const size = parseDecimal(sizeText, "checkpoint size");
  const rootHash = b64decodeStrict(rootText, "checkpoint root hash");
  if (rootHash.length !== HASH_SIZE) {
    throw new Error(`checkpoint root hash is ${rootHash.length} bytes, want 32`);
  }
  return { origin, size, rootHash, extensions };
}

// --- policy -----------------------------------------------------------------------------

function allowedPolicyOctet(octet) {
  return octet === 0x09 || octet === 0x0a || (octet >= 0x20 && octet !== 0x7f);
}

/**
 * Parse a C2SP tlog-policy file: which logs and witnesses to trust, and the quorum.
 * Names must be defined before use, so circular groups cannot be written at all.
 * @returns {Promise<{logs: object[], witnesses: {name: string, key: object, url: string|null}[],
 *   groups: {name: string, threshold: number, members: string[]}[], quorum: string}>}
 */
export async function parsePolicy(text) {
  const data = toBytes(text, "policy");
  let line = 1;
  for (const octet of data) {
    if (!allowedPolicyOctet(octet)) {
      throw new Error(
        `policy line ${line}: forbidden octet 0x${octet.toString(16).padStart(2, "0")}`,
      );
    }
    if (octet === 0x0a) line += 1;
  }
  const policy = { logs: [], witnesses: [], groups: [], quorum: null };
  const names = new Set();
  const rows = decodeSurrogateEscape(data).split("\n");
  for (let i = 0; i < rows.length; i++) {
    // The spec's whitespace is spaces and tabs only; other octets are opaque.
    const fields = rows[i].split(/[ \t]+/).filter(Boolean);
    if (fields.length === 0 || fields[0].startsWith("#")) continue;
    try {
      await addPolicyLine(policy, names, fields);
    } catch (error) {
      throw new Error(`policy line ${i + 1}: ${error.message}`);
    }
  }
  if (policy.quorum === null) throw new Error("policy has no quorum line");
  return policy;
}

async function policyKey(vkey, type, role) {
  const key = await parseVkey(vkey);
  if (key.type !== type) {
    const [got, want] = [key.type, type].map((t) => t.toString(16).padStart(2, "0"));
    throw new Error(`${role} key ${key.name} has type 0x${got}, want 0x${want}`);
  }
  return key;
}

function defineName(names, name) {
  if (name === NONE) throw new Error("'none' is reserved and cannot be defined");
  if (names.has(name)) throw new Error(`name '${name}' is defined twice`);
  names.add(name);
}

async function addPolicyLine(policy, names, [keyword, ...args]) {
  if (policy.quorum !== null && keyword === "quorum") {
    throw new Error("a policy has exactly one quorum line");
  }
  if (keyword === "log") {
    if (args.length !== 1 && args.length !== 2) throw new Error("want 'log <vkey> [<url>]'");
    const key = await policyKey(args[0], SIG_TYPE_ED25519, "log");
    // Duplicates are judged by the key itself: a second name must not add a vote.
    if (policy.logs.some((log) => sameBytes(log.publicKey, key.publicKey))) {
      throw new Error(`duplicate log key ${key.name}`);
    }
    policy.logs.push({ ...key, url: args[1] ?? null });
  } else if (keyword === "witness") {
    if (args.length !== 2 && args.length !== 3) {
      throw new Error("want 'witness <name> <vkey> [<url>]'");
    }
    const key = await policyKey(args[1], SIG_TYPE_COSIGNATURE_V1, "witness");
    if (policy.witnesses.some((w) => sameBytes(w.key.publicKey, key.publicKey))) {
      throw new Error(`duplicate witness key for '${args[0]}'`);
    }
    defineName(names, args[0]);
    policy.witnesses.push({ name: args[0], key, url: args[2] ?? null });
  } else if (keyword === "group") {
    policy.groups.push(parseGroup(names, args));
  } else if (keyword === "quorum") {
    if (args.length !== 1) throw new Error("want 'quorum <name>'");
    if (args[0] !== NONE && !names.has(args[0])) {
      throw new Error(`quorum names '${args[0]}', which is not defined above`);
    }
    policy.quorum = args[0];
  } else {
    throw new Error(`unknown keyword '${keyword}'`);
  }
  const most = Math.max(policy.logs.length, policy.witnesses.length, policy.groups.length);
  if (most > MAX_POLICY_ENTRIES) {
    throw new Error(`more than ${MAX_POLICY_ENTRIES} logs, witnesses or groups`);
  }
}

function parseGroup(names, args) {
  if (args.length < 3) throw new Error("want 'group <name> all|any|<k> <member>...'");
  const [name, thresholdText, ...members] = args;
  for (const member of members) {
    if (member === NONE) throw new Error("'none' cannot be a group member");
    if (!names.has(member)) throw new Error(`group member '${member}' is not defined above`);
  }
  // One witness must not count twice towards a threshold.
  if (new Set(members).size !== members.length) {
    throw new Error(`group '${name}' lists a member twice`);
  }
  let threshold;
  if (thresholdText === "all") threshold = members.length;
  else if (thresholdText === "any") threshold = 1;
  else {
    const k = parseDecimal(thresholdText, "group threshold");
    if (k < 1n || k > BigInt(members.length)) {
      throw new Error(`group threshold ${k} is outside 1..${members.length}`);
    }
    threshold = Number(k);
  }
  defineName(names, name);
  return { name, threshold, members };
}

/**
 * Groups can share subgroups, so results are memoised: without it a policy of
 * groups each naming the two before would take exponential time to evaluate.
 */
function quorumMet(policy, cosigners) {
  const have = new Set(cosigners);
  const groups = new Map(policy.groups.map((g) => [g.name, g]));
  const memo = new Map();
  const met = (name) => {
    if (name === NONE) return true;
    const group = groups.get(name);
    if (!group) return have.has(name);
    if (!memo.has(name)) memo.set(name, group.members.filter(met).length >= group.threshold);
    return memo.get(name);
  };
  return met(policy.quorum);
}

function describeQuorum(policy) {
  if (policy.quorum === NONE) return "none";
  const group = policy.groups.find((g) => g.name === policy.quorum);
  if (!group) return policy.quorum;
  const n = group.members.length;
  return `${group.name} (${group.threshold} of ${n}: ${group.members.join(", ")})`;
}

/**
 * Open a checkpoint note against the policy and evaluate the quorum.
 * Unknown keys are ignored (that is how cosigners and key rotation coexist), but a
 * known key whose signature fails rejects the note: it means tampering, not noise.
 */
async function checkCheckpoint(policy, noteText) {
  const note = parseNote(noteText);
  const known = new Map();
  const keyRef = (name, keyId) => `${name} ${keyId}`; // names never contain spaces
  for (const log of policy.logs) {
    known.set(keyRef(log.name, log.keyId), (t, s) => ed25519Verify(log, t, s));
  }
  for (const w of policy.witnesses) {
    known.set(keyRef(w.key.name, w.key.keyId), (t, s) => cosignatureVerify(w.key, t, s));
  }
  const textBytes = encoder.encode(note.text);
  const outcomes = await Promise.all(
    note.signatures.map((sig) => known.get(keyRef(sig.name, sig.keyId))?.(textBytes, sig.sig)),
  );
  const verified = new Map(); // first verified signature per key, in note order
  note.signatures.forEach((sig, i) => {
    if (outcomes[i] === undefined) return;
    if (!outcomes[i]) {
      throw new Error(`signature by known key ${sig.name}+${hex8(sig.keyId)} does not verify`);
    }
    if (!verified.has(keyRef(sig.name, sig.keyId))) verified.set(keyRef(sig.name, sig.keyId), sig);
  });
  if (verified.size === 0) {
    const signers = [...new Set(note.signatures.map((s) => s.name))].sort().join(", ");
    throw new Error(`note has no signature from a known key (signed by: ${signers})`);
  }
  const checkpoint = parseCheckpoint(note.text);
  // The log key's name is the origin: a key trusted for one log vouches for no other.
  const log = policy.logs.find(
    (l) => l.name === checkpoint.origin && verified.has(keyRef(l.name, l.keyId)),
  );
  if (!log) {
    const logs = policy.logs.map((l) => l.name).join(", ") || "none";
    throw new Error(
      `checkpoint for origin '${checkpoint.origin}' is not signed by a log ` +
        `of the policy (policy logs: ${logs})`,
    );
  }
  const cosigners = [];
  const cosignatureTimes = {};
  for (const w of policy.witnesses) {
    const sig = verified.get(keyRef(w.key.name, w.key.keyId));
    if (!sig) continue;
    cosigners.push(w.name);
    cosignatureTimes[w.name] = exact(new DataView(sig.sig.buffer).getBigUint64(0));
  }
  return { checkpoint, log: log.name, cosigners, cosignatureTimes };
}

// --- Merkle inclusion -------------------------------------------------------------------

async function nodeHash(left, right) {
  return sha256(Uint8Array.of(0x01), left, right);
}

function checkUint64(value, what) {
  if (value < 0n || value > UINT64_MAX) {
    throw new Error(`${what} ${value} is not an unsigned 64-bit integer`);
  }
}

/**
 * Check that leafHash is at index in the tree of size with root (RFC 9162 2.1.3.2).
 * Below the level where the paths to index and to the last leaf part, the leaf's
 * side is its index bit; above it the path runs along the right border, so every
 * remaining sibling is on the left. The exact length is required, so no proof can
 * carry spare hashes. Resolves to undefined or rejects with the reason.
 */
export async function verifyInclusion(index, size, leafHash, proofHashes, root) {
  const i = BigInt(index);
  const n = BigInt(size);
  checkUint64(i, "index");
  checkUint64(n, "size");
  if (i >= n) throw new Error(`index ${i} is not in a tree of size ${n}`);
  if (leafHash.length !== HASH_SIZE) {
    throw new Error(`leaf hash is ${leafHash.length} bytes, want ${HASH_SIZE}`);
  }
  proofHashes.forEach((h, k) => {
    if (h.length !== HASH_SIZE) throw new Error(`proof hash ${k} is ${h.length} bytes, want 32`);
  });
  const inner = bitLength(i ^ (n - 1n));
  const want = inner + bitCount(i >> BigInt(inner));
  if (proofHashes.length !== want) {
    throw new Error(`wrong proof size ${proofHashes.length}, want ${want}`);
  }
  let node = leafHash;
  for (let level = 0; level < inner; level++) {
    const sibling = proofHashes[level];
    const onRight = (i >> BigInt(level)) & 1n;
    node = onRight ? await nodeHash(sibling, node) : await nodeHash(node, sibling);
  }
  for (const sibling of proofHashes.slice(inner)) node = await nodeHash(sibling, node);
  if (!sameBytes(node, root)) {
    throw new Error(`calculated root ${hex(node)} does not match checkpoint root ${hex(root)}`);
  }
}

// --- tlog-proof -------------------------------------------------------------------------

/**
 * Parse a tlog-proof file. `extra` is unauthenticated: it earns trust only through
 * the inclusion proof binding its hash to a checkpoint the policy accepts.
 * @returns {{extra: Uint8Array|null, index: bigint, hashes: Uint8Array[], checkpoint: string}}
 */
export function parseTlogProof(text) {
  const data = toBytes(text, "proof");
  let split = -1;
  for (let k = 0; k + 1 < data.length; k++) {
    if (data[k] === 0x0a && data[k + 1] === 0x0a) {
      split = k;
      break;
    }
  }
  const head = split < 0 ? data : data.subarray(0, split);
  if (head.some((b) => b >= 0x80)) throw new Error("proof header is not ASCII");
  if (split < 0) throw new Error("proof has no blank line before its checkpoint");
  const lines = strictUtf8.decode(head).split("\n"); // ASCII was checked just above
  if (lines[0] !== PROOF_HEADER) throw new Error(`proof does not start with '${PROOF_HEADER}'`);
  let pos = 1;
  let extra = null;
  if (pos < lines.length && lines[pos].startsWith("extra")) {
    if (!lines[pos].startsWith("extra ")) throw new Error("extra line must be 'extra <base64>'");
    extra = b64decodeStrict(lines[pos].slice(6), "extra data");
    pos += 1;
  }
  if (pos >= lines.length || !lines[pos].startsWith("index ")) {
    throw new Error("proof has no 'index <n>' line");
  }
  const index = parseDecimal(lines[pos].slice(6), "index");
  const hashes = lines.slice(pos + 1).map((line, k) => {
    const value = b64decodeStrict(line, `proof hash ${k + 1}`);
    if (value.length !== HASH_SIZE) {
      throw new Error(`proof hash ${k + 1} is ${value.length} bytes, want 32`);
    }
    return value;
  });
  if (hashes.length > MAX_PROOF_HASHES) {
    throw new Error(`proof has ${hashes.length} hashes, at most 64 possible`);
  }
  const noteBytes = data.subarray(split + 2);
  parseNote(noteBytes);
  return { extra, index, hashes, checkpoint: strictUtf8.decode(noteBytes) };
}

/**
 * Verify a receipt offline against a policy, in the spec's four steps: leaf hash,
 * log signature for the origin, witness quorum, inclusion. If the entry is given
 * out of band and the proof also has `extra`, they must agree, so a file can never
 * prove one fact while displaying another.
 * @returns {Promise<{index: number|bigint, size: number|bigint, origin: string, log: string,
 *   cosigners: string[], cosignatureTimes: Object<string, number|bigint>, quorum: string,
 *   entry: Uint8Array}>}
 */
export async function verifyReceipt(proofText, policyText, entryBytes = null) {
  const proof = parseTlogProof(proofText);
  const policy = await parsePolicy(policyText);
  let entry;
  if (entryBytes === null || entryBytes === undefined) {
    if (proof.extra === null) throw new Error("proof has no extra line and no entry was given");
    entry = proof.extra;
  } else {
    entry = toBytes(entryBytes, "entry");
    if (proof.extra !== null && !sameBytes(proof.extra, entry)) {
      throw new Error("the entry given differs from the entry in the proof's extra line");
    }
  }
  const leaf = await sha256(Uint8Array.of(0x00), entry);
  const result = await checkCheckpoint(policy, proof.checkpoint);
  if (!quorumMet(policy, result.cosigners)) {
    const got = result.cosigners.join(", ") || "no witness";
    throw new Error(`quorum ${describeQuorum(policy)} not met: cosigned by ${got}`);
  }
  const { size, rootHash, origin } = result.checkpoint;
  try {
    await verifyInclusion(proof.index, size, leaf, proof.hashes, rootHash);
  } catch (error) {
    throw new Error(
      `inclusion proof of entry ${proof.index} in the checkpoint of size ${size} fails: ` +
        error.message,
      { cause: error },
    );
  }
  return {
    index: exact(proof.index),
    size: exact(size),
    origin,
    log: result.log,
    cosigners: result.cosigners,
    cosignatureTimes: result.cosignatureTimes,
    quorum: describeQuorum(policy),
    entry,
  };
}
