// Sealing and opening messages (twin of e2e_crypto/client/envelopes.py); the typed
// payloads inside are e2e_crypto/js/carechat-payloads.mjs (twin of payloads.py).

import { KIND, openMessage, sealMessage } from "../../../e2e_crypto/js/carechat-e2e.mjs";
import { decodePayload } from "../../../e2e_crypto/js/carechat-payloads.mjs";
import { ApiError } from "./errors.mjs";

export { PayloadError, decodePayload, encodePayload, normalizePayload } from "../../../e2e_crypto/js/carechat-payloads.mjs";

// ---------------------------------------------------------------- envelopes

const isReportToGp = (payload) => payload?.t === "report_to_gp";

export class Envelopes {
  constructor(keystore, directory) {
    this.keystore = keystore;
    this.directory = directory;
  }

  /** Every active device of `participants` and of this account, verified. */
  async recipients(participants, { refresh = false } = {}) {
    const accounts = [...new Set([this.keystore.accountId, ...participants])];
    const devices = [];
    for (const accountId of accounts) devices.push(...(await this.directory.devices(accountId, { refresh })));
    return devices;
  }

  async seal(threadId, clientMsgId, body, participants, { refresh = false } = {}) {
    const toDevices = await this.recipients(participants, { refresh });
    // A report to the GP travels marked as one in the signed header: the server checks
    // the patient's consent on that mark, and readers refuse an unmarked one (below).
    const kind = isReportToGp(decodePayload(body)) ? KIND.REPORT_TO_GP : KIND.MESSAGE;
    return sealMessage(this.keystore.device, { threadId, clientMsgId, body, toDevices, kind });
  }

  /** The sender's verified device; a server briefly unreachable is asked again. */
  async _sender(sealed) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.directory.device(sealed.senderAccount, sealed.senderDevice);
      } catch (error) {
        const offline = error instanceof ApiError && (error.status === 0 || error.status >= 502);
        if (!offline || attempt >= 3) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
      }
    }
  }

  /**
   * {payload, verified, reason}: verified false (payload null) for anything that does
   * not verify or decrypt — a tampered envelope, an unknown or changed sender key.
   */
  async open(sealed) {
    const { payload, verified, reason } = await this.reveal(sealed);
    return { payload, verified, reason };
  }

  /**
   * As open(), plus what an abuse report reveals: the plaintext `body` bytes and the
   * `frankingKey` the envelope carried (null when it does not verify). Only report()
   * asks for them, on the stored envelope fetched again: messages the pages hold never
   * keep the key.
   */
  async reveal(sealed) {
    let sender;
    try {
      sender = await this._sender(sealed);
    } catch (error) {
      const reason = error?.name === "RootKeyChanged" ? "sender's root key changed" : error?.name === "TrustError" ? "sender's device list does not verify" : "unknown sender device";
      return { payload: null, verified: false, reason, body: null, frankingKey: null };
    }
    for (const opener of this.keystore.openers()) {
      try {
        const opened = openMessage(sealed.envelope, {
          opener,
          sender,
          threadId: sealed.threadId,
          clientMsgId: sealed.clientMsgId,
        });
        const payload = decodePayload(opened.body);
        if (isReportToGp(payload) !== (opened.header.kind === KIND.REPORT_TO_GP)) {
          return { payload: null, verified: false, reason: "the message is not marked as what it is", body: null, frankingKey: null };
        }
        return { payload, verified: true, reason: null, body: opened.body, frankingKey: opened.frankingKey };
      } catch {
        // not this opener's (or tampered): try the next
      }
    }
    return { payload: null, verified: false, reason: "does not decrypt", body: null, frankingKey: null };
  }
}
