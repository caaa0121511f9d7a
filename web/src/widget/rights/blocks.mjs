// "Blocked accounts" and a conversation's "Block…" action. Once the patient blocks an
// account, the server keeps the two apart (chat_server/handlers/blocks.py): the other
// can no longer request a conversation, send into one they share, or see presence or
// typing. Only the blocker can undo it, here.
//
// The server knows accounts by id only; the names come from the conversations this
// browser has loaded (their members), else the account is shown by its id.

import { announce, h } from "../../ui/dom.mjs";
import { formatTime, t } from "../../ui/i18n.mjs";
import { errorLine, errorText, showError } from "../forms.mjs";
import { heading } from "../shell.mjs";
import { memberNames } from "../views/conversation.mjs";
import { rightsOf } from "./consents.mjs";
import { confirmDialog } from "./dialog.mjs";
import "./i18n.mjs";

/** Account id -> display name, from every conversation the widget knows. */
function knownNames(widget) {
  const names = new Map();
  for (const summary of widget.threads?.values() ?? []) {
    for (const [id, name] of memberNames(summary)) names.set(id, name);
  }
  return names;
}

function nameOf(widget, accountId) {
  return knownNames(widget).get(accountId) ?? t("blocks.account", { id: accountId });
}

export function blocksState() {
  return { blocks: null, status: null };
}

export function blocksView(widget, state) {
  const errors = errorLine();
  const back = h("div", { class: "w-conversation-head" }, h("button", { type: "button", class: "button link w-back", onclick: () => widget.home() }, t("rights.back")));
  const head = heading(t("blocks.title"), t("blocks.lead"));
  if (state.blocks === null) {
    rightsOf(widget)
      .blocks()
      .then((blocks) => {
        state.blocks = blocks;
        if (widget.current?.view === blocksView) widget.rerender();
      })
      .catch((error) => showError(errors, errorText(error)));
    return [back, ...head, h("p", { class: "w-loading", role: "status" }, t("loading")), errors];
  }
  const unblock = (accountId) => async (event) => {
    event.currentTarget.disabled = true;
    try {
      await rightsOf(widget).unblock(accountId);
      state.blocks = await rightsOf(widget).blocks();
      state.status = t("blocks.unblocked", { name: nameOf(widget, accountId) });
      widget.rerender();
      announce(state.status);
    } catch (error) {
      showError(errors, errorText(error));
    }
  };
  return [
    back,
    ...head,
    h("p", { class: "w-saved", role: "status" }, state.status ?? ""),
    errors,
    state.blocks.length
      ? h(
          "ul",
          { class: "w-blocks" },
          state.blocks.map((b) =>
            h(
              "li",
              { class: "w-block", dataset: { account: b.accountId } },
              h("span", { class: "w-block-who" }, h("strong", {}, nameOf(widget, b.accountId)), " ", h("span", { class: "w-block-since" }, t("blocks.since", { at: formatTime(b.since) }))),
              h("button", { type: "button", class: "button secondary", onclick: unblock(b.accountId) }, t("blocks.unblock", { name: nameOf(widget, b.accountId) })),
            ),
          ),
        )
      : h("p", { class: "w-empty" }, t("blocks.none")),
  ];
}

/** The conversation's "Block…": a dialog naming everyone else in it, one button each. */
export function blockDialog(widget, thread) {
  const others = [...memberNames(thread)].filter(([id]) => id !== widget.client.accountId);
  confirmDialog(widget, {
    id: "w-block-dialog",
    title: t("blocks.dialog.title"),
    lead: others.length ? t("blocks.dialog.lead") : t("blocks.dialog.nobody"),
    choices: others.map(([id, name]) => ({
      label: t("blocks.dialog.block", { name }),
      kind: "primary",
      run: () => rightsOf(widget).block(id),
      after: () => {
        const state = blocksState();
        state.status = t("blocks.blocked", { name });
        widget.show(blocksView, state);
        announce(state.status);
      },
    })),
    cancel: t("blocks.dialog.cancel"),
  });
}
