// @ts-check
// The tree head view: the latest signed head, its signature checked against the pinned key (or the one
// served), compared with the head seen before; and the form that pins the log's key.

/** @import { TreeHeadJson } from "./api-types.js" */
import { api, failed } from "./api.js";
import { checkConsistency, consistencyVerdict } from "./consistency.js";
import { definitionList, el, lowerFirst, setStatus, show, timeText, valueText, verdictParts } from "./dom.js";
import {
  checkTreeHead,
  fingerprint,
  pinKey,
  pinnedKey,
  rawKey,
  treeHeadHeadline,
  unpinKey,
} from "./signature.js";

export async function treeHeadView() {
  const out = el("div");
  show("Latest signed tree head", out, pinForm());
  setStatus("Loading…");
  try {
    const head = /** @type {TreeHeadJson} */ (await api("/v1/log/tree-head"));
    const served = rawKey(head.public_key);
    const check = await checkTreeHead(head);
    const consistency = await checkConsistency(head, check);
    const pinned = pinnedKey();
    const servedIsPinned = pinned !== null && pinned === head.public_key;
    const reload = el("button", { type: "button", id: "reload-head" }, "Load the latest head again");
    reload.addEventListener("click", () => void treeHeadView());
    out.replaceChildren(
      definitionList([
        ["Tree size", String(head.tree_size)],
        ["Root hash", el("code", {}, valueText(head.root_hash))],
        ["Signed at", timeText(head.timestamp)],
        ["Log ID", valueText(head.log_id)],
        ["Signature (Ed25519, base64)", el("code", {}, valueText(head.signature))],
        ["Log public key this server serves (base64)", el("code", {}, valueText(head.public_key))],
        [
          "Served key's SHA-256 fingerprint",
          served
            ? el("code", { id: "served-key-fingerprint" }, await fingerprint(served))
            : "not a 32-byte key",
        ],
      ]),
      el(
        "p",
        { id: "signature-verdict", role: "status" },
        ...verdictParts(check.state === "ok", treeHeadHeadline(check), `${check.detail}.`),
        check.pinned
          ? servedIsPinned
            ? " The server serves the pinned key."
            : " The server serves another key than the pinned one."
          : check.state === "ok"
            ? " This only shows the head was signed by the key this server serves: a server that altered " +
              "the log could serve a key of its own. Pin the log's public key, got from elsewhere, below."
            : "",
      ),
      el(
        "p",
        { class: "note" },
        "Checked in this browser (WebCrypto Ed25519) over the bytes the log signs: " +
          "xbus-tree-head/v1, log ID, tree size, root hash and time, one per line. To check the whole log " +
          "against this head offline, with a pinned key: xbus log export, then xbus log verify --file --public-key.",
      ),
      el("h3", {}, "Against the head seen before"),
      consistencyVerdict(consistency),
      el(
        "p",
        { class: "note" },
        "This tab remembers the last signed head it verified, per log ID and key (session storage). A newer " +
          "head must extend it: the page fetches the log's consistency proof between the two sizes and checks " +
          "it here (RFC 9162 §2.1.4.2, SHA-256 in this browser). A smaller head, a head of the same size with " +
          "another root, or a proof that fails means the log was rewritten or forked; the head seen before " +
          "then stays the one remembered.",
      ),
      reload,
    );
    setStatus(
      `Tree head loaded; ${treeHeadHeadline(check).replace(/^Tree head /, "")}; ${lowerFirst(consistency.headline)}.`,
      consistency.state === "inconsistent",
    );
  } catch (err) {
    failed(err, out);
  }
}

/** The form that pins the log's public key in this tab (and shows the pinned key's fingerprint). */
function pinForm() {
  const message = el("p", { id: "pin-message", role: "alert" });
  const field = el("input", {
    id: "pin-input",
    name: "public_key",
    type: "text",
    spellcheck: "false",
    autocomplete: "off",
    maxlength: "64",
  });
  const form = el(
    "form",
    { id: "pin-form", "aria-label": "Pin the log's public key" },
    el("label", { for: "pin-input" }, "Log public key (base64 of the raw 32-byte Ed25519 key)"),
    field,
    el("button", { type: "submit" }, "Pin this key"),
  );
  const pinned = pinnedKey();
  const current = el("div", { id: "pinned-key" }, pinned ? "" : "No key pinned.");
  const section = el(
    "section",
    { "aria-labelledby": "pin-heading" },
    el("h3", { id: "pin-heading" }, "Pinned log key"),
    el(
      "p",
      { class: "note" },
      "Get the log's public key from somewhere other than this server (its operator, a published " +
        "fingerprint), as xbus log verify --public-key takes it. It is kept in this tab's session storage " +
        "only; tree heads are then checked against it.",
    ),
    current,
    message,
    form,
  );
  const raw = rawKey(pinned);
  if (pinned) {
    const unpin = el("button", { type: "button" }, "Unpin the key");
    unpin.addEventListener("click", () => {
      unpinKey();
      void treeHeadView();
    });
    const dl = definitionList([
      ["Pinned key (base64)", el("code", {}, pinned)],
      [
        "Pinned key's SHA-256 fingerprint",
        raw ? el("code", { id: "pinned-key-fingerprint" }) : "not a 32-byte key",
      ],
    ]);
    current.replaceChildren(dl, unpin);
    if (raw)
      void fingerprint(raw).then((f) => {
        const code = document.getElementById("pinned-key-fingerprint");
        if (code) code.textContent = f;
      });
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = field.value.trim();
    if (!rawKey(value)) {
      message.textContent =
        "Not pinned: a log public key is the base64 of 32 bytes (44 characters ending in =).";
      return;
    }
    pinKey(value);
    void treeHeadView();
  });
  return section;
}
