// The page shell every CareChat page starts from: it loads the end-to-end crypto
// (libsodium compiled to WebAssembly, hence 'wasm-unsafe-eval' in the page's CSP) and
// says so in the status line. Pages are built on top of it; nothing else lives here.
//
// carechat-e2e.mjs awaits libsodium's readiness at its top level, so this module runs
// only once every primitive of docs/protocol.md is usable. If the WebAssembly cannot
// compile (a CSP without 'wasm-unsafe-eval'), the import throws, the status stays at
// "loading" and the error reaches the console, where the browser tests fail on it.
import "../../e2e_crypto/js/carechat-e2e.mjs";

const status = document.getElementById("status");
if (status) {
  status.textContent = "ready";
  status.dataset.state = "ready";
}
