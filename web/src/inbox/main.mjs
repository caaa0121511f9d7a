// The practitioner inbox (/app): the entry point. It opens the client library (which
// restores a session from storage), then walks the practitioner through what is
// missing, in order — signing in (with TOTP), setting TOTP up when the server will
// soon require it, this browser's device keys — and finally mounts the workspace.
//
// Each step is a view (a function that returns a DOM tree and calls `next()` when
// done); this module only decides which one to show, and re-renders the current one
// when the language changes so every text follows the switcher.
import { CareChatClient } from "../client/index.mjs";
import { mount } from "../ui/dom.mjs";
import { language, onLanguageChange, translateNotice } from "../ui/i18n.mjs";
import "./catalog.mjs";
import { keysView } from "./keys.mjs";
import { signInView, suspendedView, totpSetupView } from "./signin.mjs";
import { Workspace } from "./workspace.mjs";

const client = await CareChatClient.open({ baseUrl: location.origin });

// Set-up is offered right after signing in with the password, not when a kept session
// reopens the page: "later" must not bring it back at every load.
let totpOffered = client.accountId !== null;
let workspace = null;

function step() {
  if (client.accountId === null) {
    totpOffered = false;
    return () => signInView(client, route);
  }
  if (!totpOffered && client.me?.role === "practitioner" && !client.me?.totp_enabled) {
    return () =>
      totpSetupView(client, () => {
        totpOffered = true;
        route();
      });
  }
  if (!client.hasKeys) {
    return () => keysView(client, route);
  }
  return null;
}

function route() {
  const view = step();
  if (view !== null) {
    workspace?.close();
    workspace = null;
    mount(view());
    return;
  }
  if (workspace === null) {
    workspace = new Workspace(client, {
      onSignedOut: () => {
        workspace = null;
        route();
      },
      // The live socket closed by a suspension: why, instead of a bare sign-in form.
      onSuspended: (reason) => {
        workspace = null;
        mount(suspendedView(client, { reason }, route));
      },
    });
    mount(workspace.element);
    workspace.start();
  }
}

translateNotice();
document.documentElement.lang = language();
onLanguageChange(() => {
  if (workspace !== null) {
    workspace.render();
  } else {
    route();
  }
});
route();
