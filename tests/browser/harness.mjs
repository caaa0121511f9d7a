// Test-only script (tests/browser/test_client_library.py): exposes the client library
// on window so the test can drive it with page.evaluate. The test bundles it into a
// temporary folder and adds it to the real /app page through Playwright's request
// routing: no production page or route carries it.
import * as carechat from "../../web/src/client/index.mjs";
import { sealedFromJson } from "../../web/src/client/socket.mjs";
import * as dom from "../../web/src/ui/dom.mjs";
import * as i18n from "../../web/src/ui/i18n.mjs";

window.carechat = carechat;
// Internals a test plays a hostile server with (a replayed envelope).
window.internals = { sealedFromJson };
window.ui = { dom, i18n };
window.events = [];
window.record = (client) => {
  for (const type of ["message", "status", "receipt", "typing", "thread", "connection", "notice"]) {
    client.on(type, (detail) => window.events.push({ type, detail }));
  }
};
