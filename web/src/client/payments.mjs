// Paid general chats in the browser — twin of the paid-chat part of
// e2e_crypto/client/panel.py (start_paid_chat, paid_chat, payments).
//
//   PaymentsClient(client, panel?)   new PaymentsClient(careChatClient)
//     ├── terms()                    what a chat started now costs: integer cents,
//     │                              currency, window and SLA in seconds
//     ├── start(panelId, intake)     triage first (a red flag sends and charges
//     │                              nothing), the paid-chat terms accepted, the intake
//     │                              sealed like a panel question: {triage, chat}
//     ├── status(threadId)           the chat: state, integer cents, facts, times;
//     │                              checkout_url once the Checkout Session exists
//     ├── cancel(threadId)           the patient gives up while the payment is being
//     │                              prepared (no checkout_url yet): closed, nothing
//     │                              charged; 409 paid_chat_not_cancellable after
//     ├── close(threadId)            the answering GP ends the window early
//     ├── payments()                 the patient's paid chats, newest first
//     ├── payouts()                  the chats a practitioner answered
//     ├── reconciliation(day)        a platform admin's daily reconciliation (UTC
//     │                              YYYY-MM-DD): money per outcome, mismatches
//     ├── receipt(threadId)          the printable receipt (HTML) as a Blob, fetched with
//     │                              the session's token (a plain link would carry none)
//     └── receiptUrl(threadId)       its address (for a client that adds the header)
//
// The chat's messages use the panel question's routes: PanelClient.messages/reply
// with the thread id. Amounts stay integer cents; the page formats them.

import { randomId } from "./keystore.mjs";
import { PanelClient } from "./panel.mjs";
import { TRIAGE_RULES } from "./triage.mjs";

const API = "/api/v1";
// moderation/consents.py: the purpose a paid-chat start requires.
export const PAID_CHAT_TERMS = "paid_chat_terms";
const enc = encodeURIComponent;

export class PaymentsClient {
  constructor(client, panel = null) {
    this.client = client;
    this.panel = panel ?? new PanelClient(client);
  }

  _request(method, path, json = undefined) {
    return this.client.api.request(method, `${API}${path}`, json);
  }

  /** Records the patient's acceptance of the current paid-chat terms (the version the
   * server names in GET /consents), which a start requires. */
  async acceptTerms() {
    const consents = await this._request("GET", "/consents");
    const version = String(consents.text_versions[PAID_CHAT_TERMS]);
    await this._request("POST", "/consents", { purpose: PAID_CHAT_TERMS, version });
    return version;
  }

  /** Whether the current paid-chat terms are accepted already. */
  async termsAccepted() {
    const consents = await this._request("GET", "/consents");
    return consents.current.some((c) => c.purpose === PAID_CHAT_TERMS);
  }

  /**
   * intake: {ageBand, mainSymptom, since, riskFactors, text}. A red flag returns
   * {triage, chat: null} with `triage.stop`. Otherwise {triage, chat}: the chat is
   * `pending_payment` with its `checkout_url` (send the patient there) — or without
   * one while Stripe is retried by the server ("preparing payment": poll status()
   * until it has one, or cancel()). ApiError
   * consent_required until acceptTerms().
   */
  async start(panelId, intake, { country = "BE", rules = TRIAGE_RULES } = {}) {
    const triage = rules.evaluate(intake, { country });
    if (triage.stop) return { triage, chat: null };
    const keystore = this.client.keystore;
    const threadId = randomId(16);
    const payload = {
      t: "panel_question",
      age_band: intake.ageBand,
      main_symptom: intake.mainSymptom,
      since: intake.since,
      risk_factors: [...intake.riskFactors],
      text: intake.text ?? "",
      rules_version: triage.rulesVersion,
    };
    const epoch = await this.panel.epoch(panelId);
    const mine = await this.client.directory.devices(keystore.accountId, { refresh: true });
    const envelope = this.panel._seal(threadId, "q1", payload, mine, epoch);
    const chat = await this._request("POST", "/paid-chats", { thread_id: threadId, client_msg_id: "q1", envelope });
    return { triage, chat };
  }

  /** {price_cents, currency, window_seconds, sla_seconds}: a chat started now. */
  terms() {
    return this._request("GET", "/paid-chats/terms");
  }

  status(threadId) {
    return this._request("GET", `/paid-chats/${enc(threadId)}`);
  }

  cancel(threadId) {
    return this._request("POST", `/paid-chats/${enc(threadId)}/cancel`);
  }

  close(threadId) {
    return this._request("POST", `/paid-chats/${enc(threadId)}/close`);
  }

  async payments() {
    return (await this._request("GET", "/payments")).payments;
  }

  /** The paid chats this practitioner answered (for payout), newest first. */
  async payouts() {
    return (await this._request("GET", "/payouts")).payouts;
  }

  /** A platform admin's reconciliation of a UTC day ("YYYY-MM-DD"). */
  reconciliation(day) {
    return this._request("GET", `/admin/payments/reconciliation/${enc(day)}`);
  }

  /** The charged chat's printable HTML receipt, as a Blob to save or open. */
  async receipt(threadId) {
    const response = await this.client.api.fetch("GET", this.receiptUrl(threadId));
    return response.blob();
  }

  receiptUrl(threadId) {
    return `${API}/payments/${enc(threadId)}/receipt`;
  }
}
