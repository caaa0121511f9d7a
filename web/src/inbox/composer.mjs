// Writing in a thread: a plain message (Enter sends, Shift+Enter breaks the line), an
// attachment (encrypted in the page by the library, with an upload progress bar), and
// the practitioner's typed payloads — a booking invitation, a closing summary and a
// report to the regular GP — each a small form whose fields are the SDK's
// (payloads.mjs). A form is only cleared once the library accepted the send.
import { focus, focusFirst, h, replace } from "../ui/dom.mjs";
import { t } from "../ui/i18n.mjs";
import { alertBox, busy } from "./feedback.mjs";
import { bookingInvitation, closingSummary, reportToGp, slotFromLocal, text } from "./payloads.mjs";

const MODES = ["message", "booking", "summary", "report"];
const MAX_SLOTS = 20; // payloads.py MAX_SLOTS

let counter = 0;

function field(label, control, hint) {
  const id = control.id || `composer-${++counter}`;
  control.id = id;
  const hintEl = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintEl) {
    control.setAttribute("aria-describedby", hintEl.id);
  }
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl);
}

function area(name, attrs = {}) {
  return h("textarea", { name, rows: "3", ...attrs });
}

export class Composer {
  /**
   * `send(payload)` returns a promise; `typing()` is called while typing (the caller
   * throttles); `attach(file, onProgress)` uploads; `providerName` fills invitations.
   */
  constructor({ send, typing, attach, providerName }) {
    this.send = send;
    this.typing = typing;
    this.attach = attach;
    this.providerName = providerName;
    this.mode = "message";
    this.alert = alertBox();
    this.body = h("div", { class: "composer-body" });
    this.progress = h("div", { class: "upload", hidden: true });
    this.element = h("section", { class: "composer", "aria-label": t("composer.label") });
    this.render();
  }

  render() {
    // A redraw (the language switcher) keeps what was being written.
    const draft = this.body.querySelector('textarea[name="body"]')?.value ?? "";
    this.element.setAttribute("aria-label", t("composer.label"));
    const tabs = h(
      "div",
      { class: "modes", role: "group", "aria-label": t("composer.kind") },
      MODES.map((mode) =>
        h(
          "button",
          {
            type: "button",
            class: "mode",
            "aria-pressed": mode === this.mode ? "true" : "false",
            dataset: { mode },
            onclick: () => {
              this.mode = mode;
              this.render();
              focusFirst(this.body);
            },
          },
          t(`composer.mode.${mode}`),
        ),
      ),
    );
    replace(this.body, this.form());
    const input = this.body.querySelector('textarea[name="body"]');
    if (input && draft) {
      input.value = draft;
    }
    replace(this.element, tabs, this.body, this.progress, this.alert.element);
  }

  form() {
    switch (this.mode) {
      case "booking":
        return this.bookingForm();
      case "summary":
        return this.typedForm("summary", [
          field(t("summary.summary"), area("summary", { required: true, rows: "4" })),
          field(t("summary.follow_up"), area("follow_up")),
        ], (f) => closingSummary({ summary: f.summary.value.trim(), followUp: f.follow_up.value.trim() }),
        (f) => (f.summary.value.trim() ? null : t("composer.required", { field: t("summary.summary") })));
      case "report":
        return this.typedForm("report", [
          field(t("report.gp_name"), h("input", { name: "gp_name", required: true, maxlength: "200" })),
          field(t("report.gp_contact"), h("input", { name: "gp_contact", required: true, maxlength: "200" })),
          field(t("report.summary"), area("summary", { required: true, rows: "4" })),
        ], (f) => reportToGp({ summary: f.summary.value.trim(), gpName: f.gp_name.value.trim(), gpContact: f.gp_contact.value.trim() }),
        (f) => {
          for (const [name, key] of [["gp_name", "report.gp_name"], ["gp_contact", "report.gp_contact"], ["summary", "report.summary"]]) {
            if (!f[name].value.trim()) {
              return t("composer.required", { field: t(key) });
            }
          }
          return null;
        });
      default:
        return this.messageForm();
    }
  }

  messageForm() {
    const input = area("body", { rows: "2", placeholder: t("composer.placeholder"), "aria-label": t("composer.message") });
    const sendButton = h("button", { type: "submit", class: "primary" }, t("composer.send"));
    const fileInput = h("input", {
      type: "file",
      id: `attach-${++counter}`,
      class: "visually-hidden file-input",
      onchange: () => {
        const file = fileInput.files?.[0];
        fileInput.value = "";
        if (file) {
          this.upload(file);
        }
      },
    });
    const form = h(
      "form",
      {
        class: "message-form",
        onsubmit: (event) => {
          event.preventDefault();
          const body = input.value.trim();
          if (!body) {
            return;
          }
          busy(sendButton, this.alert, async () => {
            await this.send(text(body));
            input.value = "";
            focus(input);
          });
        },
      },
      input,
      h(
        "div",
        { class: "row-actions" },
        fileInput,
        h("label", { for: fileInput.id, class: "button attach" }, t("composer.attach")),
        sendButton,
      ),
    );
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    input.addEventListener("input", () => this.typing());
    return form;
  }

  bookingForm() {
    const slots = h("div", { class: "slots-fields" });
    const addSlot = () => {
      if (slots.children.length >= MAX_SLOTS) {
        return;
      }
      const index = slots.children.length + 1;
      slots.append(field(t("booking.slot", { n: index }), h("input", { type: "datetime-local", name: "slot" })));
    };
    addSlot();
    const more = h("button", { type: "button", class: "small", onclick: () => {
      addSlot();
      focus(slots.lastElementChild.querySelector("input"));
    } }, t("booking.add_slot"));
    return this.typedForm("booking", [
      field(t("booking.provider_kind"), h(
        "select",
        { name: "provider_kind" },
        h("option", { value: "practitioner" }, t("booking.kind.practitioner")),
        h("option", { value: "practice" }, t("booking.kind.practice")),
      )),
      field(t("booking.provider"), h("input", { name: "provider_name", required: true, maxlength: "200", value: this.providerName ?? "" })),
      slots,
      more,
      field(t("booking.link"), h("input", { name: "url", type: "url", placeholder: "https://", maxlength: "2000" }), t("booking.link_hint")),
      field(t("booking.note"), area("note")),
    ], (f) => bookingInvitation({
      providerKind: f.provider_kind.value,
      providerName: f.provider_name.value.trim(),
      slots: [...f.querySelectorAll('input[name="slot"]')].map((i) => i.value).filter(Boolean).map(slotFromLocal).filter(Boolean),
      url: f.url.value.trim(),
      note: f.note.value.trim(),
    }), (f) => {
      if (!f.provider_name.value.trim()) {
        return t("composer.required", { field: t("booking.provider") });
      }
      const url = f.url.value.trim();
      if (url && !url.startsWith("https://")) {
        return t("booking.https_only");
      }
      const anySlot = [...f.querySelectorAll('input[name="slot"]')].some((i) => i.value);
      return anySlot || url ? null : t("booking.slot_or_link");
    });
  }

  /** A typed-payload form: `build(form)` makes the payload once `check(form)` is null. */
  typedForm(kind, fields, build, check) {
    const submit = h("button", { type: "submit", class: "primary" }, t(`composer.send.${kind}`));
    const form = h(
      "form",
      {
        class: ["typed-form", `form-${kind}`],
        novalidate: true,
        onsubmit: (event) => {
          event.preventDefault();
          const problem = check(form);
          if (problem) {
            this.alert.show(problem);
            return;
          }
          busy(submit, this.alert, async () => {
            await this.send(build(form));
            this.mode = "message";
            this.render();
            focusFirst(this.body);
          });
        },
      },
      ...fields,
      h("div", { class: "row-actions" }, submit),
    );
    return form;
  }

  async upload(file) {
    const bar = h("progress", { max: "100", value: "0", "aria-label": t("attachment.uploading", { name: file.name }) });
    replace(this.progress, h("span", { class: "file-name" }, file.name), bar);
    this.progress.hidden = false;
    this.alert.hide();
    try {
      await this.attach(file, (progress) => {
        bar.value = Math.round(100 * fraction(progress, file.size));
      });
    } catch (error) {
      this.alert.show(error);
    } finally {
      this.progress.hidden = true;
      replace(this.progress);
    }
  }
}

/** Upload progress as a fraction, whatever shape the library reports it in. */
function fraction(progress, size) {
  if (typeof progress === "number") {
    return progress <= 1 ? progress : progress / Math.max(size, 1);
  }
  const loaded = Number(progress?.loaded ?? progress?.sent ?? 0);
  const total = Number(progress?.total ?? size) || 1;
  return Math.min(1, loaded / total);
}
