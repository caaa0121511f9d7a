// The GP panel in the browser — twin of e2e_crypto/client/panel.py.
//
//   PanelClient(client)                     new PanelClient(careChatClient)
//     │ epochs: the panel's commit chain, verified from epoch 1 against the admin's
//     │         root key (pinned on first use by the directory); never an older epoch
//     │         than one already seen (StaleEpoch)
//     ├── patient: ask (triage first: a red flag returns the emergency numbers and
//     │            sends nothing), status, messages, reply, withdraw, keepWaiting, rate
//     ├── GP:      panels, members, online/offline, queue, stats, claim, renew, release,
//     │            handOver, park, resume, reply/answer, convert
//     └── admin:   create, changeSettings, findPractitioner, commitMembers (the next
//                  epoch, signed here with this account's root key)
//
// Every envelope is sealed to the patient's devices and the panel's *current* epoch
// key, with the group in the header; every envelope read is checked with the group
// rules the server applies (the epoch it names is one this browser verified, that
// epoch's key is its one epoch recipient, the sender is a member device of that epoch
// or the question's patient) before it is opened. A message that breaks them, or that
// names an older epoch than the one before it, is shown as "could not be verified".
//
// Statuses, queues and figures are the server's JSON as protocol.md documents it
// (snake_case); the live ones arrive as the client's "panel", "question" and
// "panelRemoved" events.

import {
  CryptoError,
  createEpochCommit,
  fromBase64url,
  openEpochKey,
  openMessage,
  parseEnvelope,
  sealMessage,
  toBase64url,
  verifyEpochCommit,
} from "../../../e2e_crypto/js/carechat-e2e.mjs";
import { ApiError, NotReady, TrustError } from "./errors.mjs";
import { randomId } from "./keystore.mjs";
import { decodePayload, encodePayload } from "./messages.mjs";
import { TRIAGE_RULES } from "./triage.mjs";

const API = "/api/v1";
const MAX_COMMIT_BYTES = 512 * 1024;

/** The server offered an older epoch of a panel than one already verified. */
export class StaleEpoch extends TrustError {}

/** A GP to add has no device yet (never signed in with keys): nothing was committed. */
export class NoDevices extends NotReady {
  constructor(accountId) {
    super(`${accountId} has no devices yet`);
    this.accountId = accountId;
  }
}

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The group rules for an envelope exchanged in `current`'s group (twin of
 * groups_public.check_group_envelope): the header names the group and `current`'s
 * epoch (an older one is stale), its one epoch recipient is `current`'s epoch key, and
 * the sender is a member device of `current` or an account in `outsiders` (for a panel
 * question: its patient). Throws TrustError whose `reason` names the broken rule.
 */
export function checkGroupEnvelope(header, current, { outsiders = [] } = {}) {
  const refuse = (reason) => {
    throw new TrustError(current.groupId, reason);
  };
  if (!header.group) refuse("no_group");
  if (header.group.groupId !== current.groupId) refuse("other_group");
  if (header.group.epoch !== current.epoch) refuse("stale_epoch");
  const epochs = header.recipients.filter((r) => r.type === "epoch");
  if (
    epochs.length !== 1
    || epochs[0].groupId !== current.groupId
    || epochs[0].epoch !== current.epoch
    || !same(epochs[0].key, current.epochKey)
  ) {
    refuse("epoch_recipient_not_the_header_epoch");
  }
  const member = current.members.some((m) => m.accountId === header.senderAccount && m.deviceId === header.senderDevice);
  if (!member && !outsiders.includes(header.senderAccount)) refuse("sender_not_in_epoch");
}
const enc = encodeURIComponent;

export class PanelClient {
  constructor(client) {
    this.client = client;
    this._chains = new Map(); // panel -> [verified commit, ...] from epoch 1
    this._admins = new Map(); // panel -> admin account
    this._keys = new Map(); // "panel/epoch" -> epoch key (null: not a member)
  }

  get _api() {
    return this.client.api;
  }

  _keystore() {
    if (this.client.keystore === null) throw new NotReady("create or restore keys first");
    return this.client.keystore;
  }

  _request(method, path, json = undefined, params = null) {
    return this._api.request(method, `${API}${path}`, json, params);
  }

  // -- the panel's epochs

  /** The panel's current epoch, its chain verified from the first commit. */
  async epoch(panelId) {
    const keystore = this._keystore();
    if (!this._admins.has(panelId)) {
      const panel = await this._request("GET", `/panels/${enc(panelId)}`);
      this._admins.set(panelId, String(panel.admin_account));
    }
    const admin = this._admins.get(panelId);
    await this.client.directory.devices(admin); // pins the admin's root key (TOFU)
    const root = keystore.trustedRoot(admin);
    if (root === null) throw new TrustError(panelId, "the panel admin has no root key");
    const latest = await this._request("GET", `/panels/${enc(panelId)}/epochs/latest`);
    const chain = this._chains.get(panelId) ?? [];
    this._chains.set(panelId, chain);
    if (Number(latest.epoch) < chain.length) throw new StaleEpoch(panelId, "the server offered an older epoch of this panel");
    for (let number = chain.length + 1; number <= Number(latest.epoch); number++) {
      const doc = number === Number(latest.epoch) ? latest : await this._request("GET", `/panels/${enc(panelId)}/epochs/${number}`);
      let commit;
      try {
        commit = verifyEpochCommit(fromBase64url(String(doc.commit), MAX_COMMIT_BYTES), {
          adminAccount: admin,
          adminRootKey: root,
          previous: chain.at(-1) ?? null,
        });
      } catch (error) {
        if (error instanceof CryptoError) throw new TrustError(panelId, "the panel's epoch chain does not verify");
        throw error;
      }
      if (commit.groupId !== panelId) throw new TrustError(panelId, "the panel's epoch names another group");
      chain.push(commit);
    }
    return chain.at(-1);
  }

  _epochKey(commit) {
    const ref = `${commit.groupId}/${commit.epoch}`;
    if (!this._keys.has(ref)) {
      let key = null;
      for (const device of this._keystore().openers()) {
        try {
          key = openEpochKey(commit, device);
          break;
        } catch {
          // not a member device of that epoch
        }
      }
      this._keys.set(ref, key);
    }
    return this._keys.get(ref);
  }

  /** Panels the server lists: [{panel_id, name, admin_account, settings, notice}];
   * `mine`: only those this account sits on or administers. */
  async panels({ mine = false } = {}) {
    return (await this._request("GET", "/panels", undefined, mine ? { mine: 1 } : null)).panels;
  }

  panel(panelId) {
    return this._request("GET", `/panels/${enc(panelId)}`);
  }

  // -- patients

  /**
   * intake: {ageBand, mainSymptom, since, riskFactors, text}. Triage first: a red flag
   * returns {triage} with `triage.stop` and sends nothing. Otherwise the intake and the
   * text are sealed to this account's devices and the panel's current epoch and queued:
   * {triage, status} (status.duplicate: she already had an open question there).
   */
  async ask(panelId, intake, { country = "BE", rules = TRIAGE_RULES } = {}) {
    const triage = rules.evaluate(intake, { country });
    if (triage.stop) return { triage, status: null };
    const keystore = this._keystore();
    const questionId = randomId(16);
    const payload = {
      t: "panel_question",
      age_band: intake.ageBand,
      main_symptom: intake.mainSymptom,
      since: intake.since,
      risk_factors: [...intake.riskFactors],
      text: intake.text ?? "",
      rules_version: triage.rulesVersion,
    };
    const epoch = await this.epoch(panelId);
    const mine = await this.client.directory.devices(keystore.accountId, { refresh: true });
    const envelope = this._seal(questionId, "q1", payload, mine, epoch);
    const status = await this._request("POST", `/panels/${enc(panelId)}/questions`, {
      question_id: questionId,
      client_msg_id: "q1",
      envelope,
    });
    return { triage, status };
  }

  status(questionId) {
    return this._request("GET", `/panel-questions/${enc(questionId)}`);
  }

  withdraw(questionId) {
    return this._action(questionId, "withdraw");
  }

  keepWaiting(questionId) {
    return this._action(questionId, "keep-waiting");
  }

  /** score 1–5; the optional comment is sealed to the panel and the patient only. */
  async rate(questionId, score, comment = null) {
    const body = { score };
    if (comment !== null && comment.trim()) {
      const status = await this.status(questionId);
      const epoch = await this.epoch(String(status.panel_id));
      const devices = await this.client.directory.devices(String(status.patient_id), { refresh: true });
      body.comment = {
        client_msg_id: "rating",
        envelope: this._seal(questionId, "rating", { t: "text", body: comment }, devices, epoch),
      };
    }
    return this._request("POST", `/panel-questions/${enc(questionId)}/rating`, body);
  }

  // -- both ends

  /**
   * The question's messages after `after`, oldest first, each checked against the
   * group rules and opened: [{questionId, seq, clientMsgId, sender: {account, device},
   * at, mine, epoch, payload, verified}] (`verified: false`: payload null).
   */
  async messages(questionId, { after = 0 } = {}) {
    const status = await this.status(questionId);
    const panelId = String(status.panel_id);
    const patient = String(status.patient_id);
    await this.epoch(panelId);
    const page = await this._request("GET", `/panel-questions/${enc(questionId)}/messages`, undefined, { after });
    const opened = [];
    let lastEpoch = 0;
    for (const doc of page.messages) {
      const message = await this._open(panelId, patient, questionId, doc);
      // Within a question, epochs only move forward: a message naming an older epoch
      // than one before it was sealed to a key a removed GP may hold.
      if (message.verified && message.epoch < lastEpoch) {
        message.verified = false;
        message.payload = null;
      }
      lastEpoch = Math.max(lastEpoch, message.epoch ?? 0);
      opened.push(message);
    }
    return opened;
  }

  /** A message in the question: the patient's follow-up, or the holder's reply
   * (`answer: true`: the answer, which starts the follow-up window). */
  async reply(questionId, payload, { answer = false } = {}) {
    const status = await this.status(questionId);
    const epoch = await this.epoch(String(status.panel_id));
    const devices = await this.client.directory.devices(String(status.patient_id), { refresh: true });
    const clientMsgId = randomId(12);
    return this._request("POST", `/panel-questions/${enc(questionId)}/messages`, {
      client_msg_id: clientMsgId,
      envelope: this._seal(questionId, clientMsgId, payload, devices, epoch),
      answer,
    });
  }

  // -- GPs

  /** The console's heartbeat: online for the server's presence period. */
  online(panelId) {
    return this._request("PUT", `/panels/${enc(panelId)}/presence`);
  }

  offline(panelId) {
    return this._request("DELETE", `/panels/${enc(panelId)}/presence`);
  }

  /** {queued, mine}: waiting questions (handed to me first) and the ones I hold. */
  queue(panelId) {
    return this._request("GET", `/panels/${enc(panelId)}/queue`);
  }

  /** {queued, oldest_wait_seconds, answered_per_hour, gps_online, rating_average, rating_count}. */
  stats(panelId) {
    return this._request("GET", `/panels/${enc(panelId)}/stats`);
  }

  /** The oldest question, or `questionId`; ApiError not_online, at_capacity, nothing_to_claim. */
  claim(panelId, questionId = null) {
    return this._request("POST", `/panels/${enc(panelId)}/claims`, { question_id: questionId });
  }

  /** {lease_until}; ApiError question_not_held once it ran out. */
  renew(questionId) {
    return this._action(questionId, "lease");
  }

  release(questionId) {
    return this._action(questionId, "release");
  }

  park(questionId) {
    return this._action(questionId, "park");
  }

  resume(questionId) {
    return this._action(questionId, "resume");
  }

  handOver(questionId, colleague) {
    return this._request("POST", `/panel-questions/${enc(questionId)}/handover`, { to: colleague });
  }

  /** End the free question as "booking" or "paid_offer"; send the invitation itself
   * first (reply with a booking_invitation or paid_chat_offer payload). */
  convert(questionId, outcome) {
    return this._request("POST", `/panel-questions/${enc(questionId)}/convert`, { outcome });
  }

  /**
   * The panel's newest ratings (its GPs): [{questionId, patient, score, at, comment}].
   * A comment is opened with the panel's key after the group rules, like a message of
   * its question, and kept only if its patient wrote it; else (or none) null.
   */
  async ratings(panelId) {
    await this.epoch(panelId);
    const { ratings } = await this._request("GET", `/panels/${enc(panelId)}/ratings`);
    const found = [];
    for (const r of ratings) {
      const patient = String(r.patient_id);
      let comment = null;
      if (r.comment) {
        try {
          const header = parseEnvelope(fromBase64url(String(r.comment))).header;
          const message = await this._open(panelId, patient, String(r.question_id), {
            seq: 0,
            client_msg_id: header.clientMsgId,
            sender: { account: header.senderAccount, device: header.senderDevice },
            at: r.at,
            envelope: r.comment,
          });
          if (message.verified && message.sender.account === patient && message.payload?.t === "text") comment = message.payload.body;
        } catch {
          comment = null; // does not parse: shown without its comment
        }
      }
      found.push({ questionId: String(r.question_id), patient, score: Number(r.score), at: r.at ?? null, comment });
    }
    return found;
  }

  /** The panel's GPs by name (its GPs and its admin): [{account_id, display_name, online}]. */
  async members(panelId) {
    return (await this._request("GET", `/panels/${enc(panelId)}/members`)).members;
  }

  // -- panel admins

  /** A new panel administered by this practitioner; its first epoch comes with
   * commitMembers. settings: capacity, lease_seconds, max_wait_minutes, ... */
  create(panelId, name, settings = {}) {
    return this._request("POST", "/panels", { panel_id: panelId, name, settings });
  }

  /** Settings changes, and capacity_overrides {gp: n | null}: the panel as stored. */
  changeSettings(panelId, changes) {
    return this._request("PATCH", `/panels/${enc(panelId)}/settings`, changes);
  }

  /** {account_id, display_name, online} of the verified practitioner using `email`;
   * ApiError not_found for anyone else (and for a caller who is not the admin). */
  findPractitioner(panelId, email) {
    return this._request("POST", `/panels/${enc(panelId)}/member-lookup`, { email });
  }

  /**
   * The next epoch: exactly `accountIds`' active devices, verified through the
   * directory, sealed a fresh epoch key and signed with this account's root key;
   * anyone left out is removed. NoDevices (nothing sent) if one has no device yet.
   * Returns the new current epoch, verified like any other.
   */
  async commitMembers(panelId, accountIds) {
    const keystore = this._keystore();
    let previous = null;
    try {
      previous = await this.epoch(panelId);
    } catch (error) {
      // A new panel has no epoch yet: this is its first.
      if (!(error instanceof ApiError && error.status === 404)) throw error;
    }
    const devices = [];
    for (const accountId of new Set(accountIds)) {
      const found = await this.client.directory.devices(accountId, { refresh: true });
      if (!found.length) throw new NoDevices(accountId);
      devices.push(...found);
    }
    const { commit } = createEpochCommit(keystore.root, {
      adminAccount: keystore.accountId,
      groupId: panelId,
      members: devices,
      previous,
    });
    await this._request("POST", `/panels/${enc(panelId)}/epochs`, { commit: toBase64url(commit) });
    return this.epoch(panelId);
  }

  // -- sealing and opening

  _seal(questionId, clientMsgId, payload, patientDevices, epoch) {
    return toBase64url(
      sealMessage(this._keystore().device, {
        threadId: questionId,
        clientMsgId,
        body: encodePayload(payload),
        toDevices: patientDevices,
        toEpochs: [epoch],
        group: { groupId: epoch.groupId, epoch: epoch.epoch },
      }),
    );
  }

  async _open(panelId, patient, questionId, doc) {
    const keystore = this._keystore();
    const senderAccount = String(doc.sender?.account ?? "");
    const message = {
      questionId,
      seq: Number(doc.seq),
      clientMsgId: String(doc.client_msg_id),
      sender: { account: senderAccount, device: String(doc.sender?.device ?? "") },
      at: doc.at ?? null,
      mine: senderAccount === keystore.accountId,
      epoch: null,
      payload: null,
      verified: false,
    };
    let envelope;
    let commit;
    try {
      envelope = fromBase64url(String(doc.envelope));
      const header = parseEnvelope(envelope).header;
      commit = this._checkGroupRules(panelId, patient, header);
      message.epoch = commit.epoch;
      message.sender = { account: header.senderAccount, device: header.senderDevice };
    } catch {
      return message; // breaks the group rules: never opened
    }
    let sender;
    try {
      sender = await this.client.directory.device(message.sender.account, message.sender.device);
    } catch {
      return message;
    }
    const epochKey = keystore.accountId === patient ? null : this._epochKey(commit);
    const openers = epochKey ? [epochKey] : keystore.openers();
    for (const opener of openers) {
      try {
        const opened = openMessage(envelope, {
          opener,
          sender,
          threadId: questionId,
          clientMsgId: message.clientMsgId,
          group: { groupId: commit.groupId, epoch: commit.epoch },
        });
        message.payload = decodePayload(opened.body);
        message.verified = true;
        return message;
      } catch {
        // not this key
      }
    }
    return message;
  }

  /** The commit of the epoch `header` names, checked with the group rules. */
  _checkGroupRules(panelId, patient, header) {
    if (!header.group || header.group.groupId !== panelId) throw new TrustError(panelId, "not this panel's envelope");
    const commit = (this._chains.get(panelId) ?? [])[header.group.epoch - 1];
    if (!commit) throw new TrustError(panelId, "an epoch this browser has not verified");
    checkGroupEnvelope(header, commit, { outsiders: [patient] });
    return commit;
  }

  _action(questionId, action) {
    return this._request("POST", `/panel-questions/${enc(questionId)}/${action}`);
  }
}
