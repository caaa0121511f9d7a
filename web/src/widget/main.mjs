// The patient widget's entry point (placeholder until the page is built): it loads the
// client library (and with it the crypto) and mounts a heading into <main id="root">.
import "../client/index.mjs";
import { h, mount } from "../ui/dom.mjs";
import { registerMessages, t, translateNotice } from "../ui/i18n.mjs";

registerMessages("en", { "widget.title": "CareChat" });
registerMessages("fr", { "widget.title": "CareChat" });
registerMessages("nl", { "widget.title": "CareChat" });

translateNotice();
mount(h("h1", {}, t("widget.title")));
