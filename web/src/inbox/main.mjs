// The practitioner inbox's entry point (placeholder until the page is built): it loads the
// client library (and with it the crypto) and mounts a heading into <main id="root">.
import "../client/index.mjs";
import { h, mount } from "../ui/dom.mjs";
import { registerMessages, t, translateNotice } from "../ui/i18n.mjs";

registerMessages("en", { "inbox.title": "CareChat inbox" });
registerMessages("fr", { "inbox.title": "Messagerie CareChat" });
registerMessages("nl", { "inbox.title": "CareChat-inbox" });

translateNotice();
mount(h("h1", {}, t("inbox.title")));
