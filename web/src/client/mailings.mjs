// Prevention mailings in the browser — twin of e2e_crypto/client/roster.py and
// e2e_crypto/client/mailings.py (docs/mailings.md).
//
//   MailingsClient(client)
//     ├── practice staff: staffKey (the staff group's epoch key, its chain verified
//     │   from epoch 1; the group is created at epoch 1 by the practice admin's first
//     │   console; every older epoch key this browser holds is kept too, so rows and
//     │   notes sealed before a membership change still open), staffMembers /
//     │   setStaffAccounts (the admin's next epoch, signed here, the roster re-sealed
//     │   to it so that added colleagues open it), importRoster (labels sealed to that key here), roster (labels
//     │   opened here), audience, sendCampaign (sealed once, slips per device),
//     │   campaigns / campaign (progress counts) / pause / resume / cancel
//     └── patients: announcements (opened with this browser's slip), markRead (receiving them is a consent: rights.mjs)
//
// The server never sees a label nor a mailing's text: the audience is computed here
// from the opened labels and only the list of chosen patients is sent.

import {
  broadcastHeader,
  createEpochCommit,
  fromBase64url,
  openBroadcast,
  openEpochKey,
  openLabels,
  parseEpochCommit,
  sealBroadcast,
  sealLabels,
  toBase64url,
  verifyEpochCommit,
} from "../../../e2e_crypto/js/carechat-e2e.mjs";
import { ApiError, NotReady, TrustError } from "./errors.mjs";
import { randomId } from "./keystore.mjs";

const API = "/api/v1";
const MAX_COMMIT_BYTES = 512 * 1024;
const MAX_BODY_BYTES = 256 * 1024;
const IMPORT_CHUNK = 100; // rows per request, as the SDK: well under the body limit
const RECIPIENTS_CHUNK = 200;
const PREVIEW_CHARS = 140; // of the text, in the campaign's note (the console's reminder)
const MAX_NOTE_BYTES = 1024;
const enc = encodeURIComponent;
const utf8 = new TextEncoder();

/** The staff group of a practice (the SDK and the tests name it the same way). */
export function staffGroupId(practiceId) {
  return `staff-${practiceId}`.slice(0, 64);
}

/**
 * The server's campaign JSON, camelCased; `progress` only from campaign(). `preview`:
 * the start of its text, from the note the sending console sealed to the staff group
 * (`staffKey`, if given, opens it; null otherwise or for a campaign without one).
 */
export function campaignSummary(doc, staffKey = null) {
  // `staffKey`: one epoch key, or every epoch key this browser holds (notes sealed
  // before a membership change are sealed to an older epoch).
  return {
    preview: openPreview(doc.note, staffKey),
    campaignId: doc.campaign_id,
    practiceId: doc.practice_id,
    state: doc.state,
    sendAt: doc.send_at ?? null,
    pauseReason: doc.pause_reason ?? null,
    createdAt: doc.created_at ?? null,
    progress: doc.progress ?? null,
  };
}

function openPreview(note, staffKey) {
  if (!note || staffKey === null) return null;
  const sealed = fromBase64url(String(note), MAX_NOTE_BYTES);
  for (const key of Array.isArray(staffKey) ? staffKey : [staffKey]) {
    try {
      const opened = openLabels(sealed, key);
      return typeof opened.preview === "string" ? opened.preview : null;
    } catch {
      // sealed to another epoch of the staff group
    }
  }
  return null;
}

export class MailingsClient {
  constructor(client) {
    this.client = client;
    this._staff = new Map(); // practice -> epoch key
    this._epochKeys = new Map(); // practice -> Map(epoch -> key): every epoch this browser opens
    this._chains = new Map(); // practice -> {groupId, admin, latest (the verified commit)}
    this._revealable = new WeakMap(); // announcement -> {body, frankingKey}: only for reportAnnouncement
  }

  _keystore() {
    if (this.client.keystore === null) throw new NotReady("create or restore keys first");
    return this.client.keystore;
  }

  _request(method, path, json = undefined, params = null) {
    return this.client.api.request(method, `${API}${path}`, json, params);
  }

  // -- the staff group

  /**
   * The staff group's current epoch key, opened with one of this browser's devices
   * (a restored browser keeps its former devices). A practice whose group does not
   * exist yet gets one, at epoch 1, with this device as its only member.
   */
  async staffKey(practiceId, { refresh = false } = {}) {
    if (!refresh && this._staff.has(practiceId)) return this._staff.get(practiceId);
    const keystore = this._keystore();
    const groupId = staffGroupId(practiceId);
    let latest;
    try {
      latest = await this._request("GET", `/groups/${enc(groupId)}/epochs/latest`);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) throw error;
      // Hidden (not a member) or not there yet: only the practice's admin creates it,
      // else a colleague's first console would make itself the group's admin.
      const practice = await this._request("GET", `/practices/${enc(practiceId)}`);
      if (practice.admin !== keystore.accountId) throw new NotReady("this browser is not a member of the practice's staff group");
      return this._createStaffGroup(practiceId, groupId);
    }
    const first = Number(latest.epoch) === 1 ? latest : await this._request("GET", `/groups/${enc(groupId)}/epochs/1`);
    // The admin named in the first commit; its root key (pinned) must have signed it.
    const admin = parseEpochCommit(fromBase64url(String(first.commit), MAX_COMMIT_BYTES)).adminAccount;
    await this.client.directory.devices(admin); // pins the admin's root key (TOFU)
    const root = keystore.trustedRoot(admin);
    if (root === null) throw new TrustError(groupId, "the staff group's admin has no root key");
    let previous = null;
    const keys = new Map();
    for (let number = 1; number <= Number(latest.epoch); number++) {
      const doc = number === 1 ? first : number === Number(latest.epoch) ? latest : await this._request("GET", `/groups/${enc(groupId)}/epochs/${number}`);
      previous = verifyEpochCommit(fromBase64url(String(doc.commit), MAX_COMMIT_BYTES), {
        adminAccount: admin, adminRootKey: root, previous,
      });
      const key = openWithAny(previous, keystore.openers());
      if (key !== null) keys.set(key.epoch, key);
    }
    this._chains.set(practiceId, { groupId, admin, latest: previous });
    this._epochKeys.set(practiceId, keys);
    const key = keys.get(previous.epoch);
    if (key === undefined) throw new NotReady("this browser is not a member of the practice's staff group");
    this._staff.set(practiceId, key);
    return key;
  }

  /** Every staff epoch key this browser holds, newest first (after staffKey). */
  staffKeys(practiceId) {
    return [...(this._epochKeys.get(practiceId)?.values() ?? [])].sort((a, b) => b.epoch - a.epoch);
  }

  /** Whether this account administers the practice's staff group (after staffKey). */
  isStaffAdmin(practiceId) {
    return this._chains.get(practiceId)?.admin === this._keystore().accountId;
  }

  /**
   * The practice's members (those who accepted a role, and its admin) with their
   * verified devices and whether all of them are in the staff group's current epoch:
   * [{accountId, role, devices: [{deviceId, addedAt}], inGroup}] (addedAt: when the
   * directory listed it, an ISO string or null; people are shown that, not the id).
   */
  async staffMembers(practiceId) {
    await this.staffKey(practiceId);
    const practice = await this._request("GET", `/practices/${enc(practiceId)}`);
    const roles = new Map([[String(practice.admin), "admin"]]);
    for (const account of practice.practitioners ?? []) if (!roles.has(account)) roles.set(String(account), "practitioner");
    for (const account of practice.staff ?? []) if (!roles.has(account)) roles.set(String(account), "staff");
    const current = new Set(this._chains.get(practiceId).latest.members.map((m) => `${m.accountId}/${m.deviceId}`));
    const members = [];
    for (const [accountId, role] of roles) {
      const devices = await this.client.directory.devices(accountId, { refresh: true });
      members.push({
        accountId, role,
        devices: devices.map((d) => ({ deviceId: d.deviceId, addedAt: this.client.directory.addedAt(accountId, d.deviceId) })),
        inGroup: devices.length > 0 && devices.every((d) => current.has(`${accountId}/${d.deviceId}`)),
      });
    }
    return members;
  }

  /**
   * The staff group's next epoch (the admin only): every verified device of these
   * accounts and of the admin, signed here with the admin's root key. The roster's
   * labels are then sealed again to the new epoch (a newer import of the same rows),
   * so that an added colleague opens them; this browser keeps the older epoch keys,
   * which still open campaign notes sealed before. Returns the new epoch.
   */
  async setStaffAccounts(practiceId, accountIds) {
    const keystore = this._keystore();
    await this.staffKey(practiceId, { refresh: true });
    const chain = this._chains.get(practiceId);
    if (chain.admin !== keystore.accountId) throw new NotReady("only the staff group's admin changes its members");
    const rows = (await this.roster(practiceId)).filter((r) => r.labels !== null);
    const members = new Map([[`${keystore.accountId}/${keystore.device.deviceId}`, keystore.verifiedSelf()]]);
    for (const account of new Set([keystore.accountId, ...accountIds])) {
      for (const device of await this.client.directory.devices(account, { refresh: true })) {
        members.set(`${account}/${device.deviceId}`, device);
      }
    }
    const { commit, key } = createEpochCommit(keystore.root, {
      adminAccount: keystore.accountId, groupId: chain.groupId, members: [...members.values()], previous: chain.latest,
    });
    await this._request("POST", `/groups/${enc(chain.groupId)}/epochs`, { commit: toBase64url(commit) });
    chain.latest = parseEpochCommit(commit);
    this._epochKeys.get(practiceId).set(key.epoch, key);
    this._staff.set(practiceId, key);
    if (rows.length) {
      await this.importRoster(practiceId, rows.map((r) => ({ line: r.line, email: r.email, language: r.language, labels: r.labels })));
    }
    return key.epoch;
  }

  async _createStaffGroup(practiceId, groupId) {
    const keystore = this._keystore();
    await this._request("POST", "/groups", { group_id: groupId });
    const { commit, key } = createEpochCommit(keystore.root, {
      adminAccount: keystore.accountId, groupId, members: [keystore.verifiedSelf()],
    });
    await this._request("POST", `/groups/${enc(groupId)}/epochs`, { commit: toBase64url(commit) });
    this._staff.set(practiceId, key);
    this._chains.set(practiceId, { groupId, admin: keystore.accountId, latest: parseEpochCommit(commit) });
    this._epochKeys.set(practiceId, new Map([[key.epoch, key]]));
    return key;
  }

  // -- roster

  /**
   * Posts parsed rows (parseRosterCsv's `rows`), labels sealed here to the staff key,
   * IMPORT_CHUNK a request; `onProgress(done, total)`. Returns {imported, updated,
   * rejected}: new rows (invited), rows already on the roster (their language and
   * labels replaced), and the server's refusals by line.
   */
  async importRoster(practiceId, rows, { onProgress = null } = {}) {
    const key = await this.staffKey(practiceId);
    let imported = 0;
    let updated = 0;
    const rejected = [];
    for (let i = 0; i < rows.length; i += IMPORT_CHUNK) {
      const chunk = rows.slice(i, i + IMPORT_CHUNK);
      const report = await this._request("POST", `/practices/${enc(practiceId)}/roster`, {
        group: key.groupId,
        epoch: key.epoch,
        rows: chunk.map((r) => ({
          line: r.line, email: r.email, language: r.language, labels: toBase64url(sealLabels(r.labels, key.publicKey)),
        })),
      });
      imported += Number(report.imported);
      updated += Number(report.updated ?? 0);
      rejected.push(...report.rejected.map((r) => ({ line: Number(r.line), reason: String(r.reason) })));
      onProgress?.(Math.min(i + IMPORT_CHUNK, rows.length), rows.length);
    }
    return { imported, updated, rejected };
  }

  /**
   * The roster, labels opened here: [{rowId, line, email, language, accountId,
   * labels}] (`labels` null for a row sealed to an epoch this browser cannot open).
   */
  async roster(practiceId) {
    const current = await this.staffKey(practiceId);
    const keys = this._epochKeys.get(practiceId);
    const listing = await this._request("GET", `/practices/${enc(practiceId)}/roster`);
    return listing.rows.map((row) => {
      let labels = null;
      // A row keeps the epoch it was sealed to until re-sealed: any epoch key held opens it.
      const key = row.group === current.groupId ? keys.get(Number(row.epoch)) : undefined;
      if (key !== undefined) {
        try {
          labels = openLabels(fromBase64url(String(row.labels), 8192), key);
        } catch {
          labels = null;
        }
      }
      return {
        rowId: row.row_id, line: row.line, email: row.email, language: row.language,
        accountId: row.account_id ?? null, labels,
      };
    });
  }

  // -- campaigns

  /**
   * Seals `text` once for every verified device of `patients` (account ids), creates,
   * fills and schedules the campaign (`sendAt`: a Date, or null for now). Patients
   * without a device are left out (they have nothing to read with). Returns the
   * scheduled campaign's summary.
   */
  async sendCampaign(practiceId, { text, patients, sendAt = null }) {
    const keystore = this._keystore();
    const devices = new Map();
    for (const patient of new Set(patients)) {
      const found = await this.client.directory.devices(patient, { refresh: true });
      if (found.length) devices.set(patient, found);
    }
    if (devices.size === 0) throw new NotReady("no chosen patient has a device yet");
    const campaignId = randomId(16);
    const sealed = sealBroadcast(keystore.device, {
      campaignId, clientMsgId: campaignId, body: utf8.encode(text), toDevices: [...devices.values()].flat(),
    });
    if (sealed.body.length > MAX_BODY_BYTES) throw new NotReady("the message is too long");
    // The patients' slips are the only keys to the body: the console keeps the start
    // of the text for itself, sealed to the staff group like the labels.
    const staff = await this.staffKey(practiceId);
    const note = sealLabels({ preview: [...text].slice(0, PREVIEW_CHARS).join("") }, staff.publicKey);
    await this._request("POST", `/practices/${enc(practiceId)}/campaigns`, {
      campaign_id: campaignId, body: toBase64url(sealed.body), note: toBase64url(note),
    });
    const chosen = [...devices.keys()];
    for (let i = 0; i < chosen.length; i += RECIPIENTS_CHUNK) {
      const recipients = chosen.slice(i, i + RECIPIENTS_CHUNK).map((patient) => ({
        patient,
        slips: devices.get(patient).map((d) => toBase64url(sealed.slips.get(`${patient}/${d.deviceId}`))),
      }));
      await this._request("POST", `/campaigns/${enc(campaignId)}/recipients`, { recipients });
    }
    const scheduled = await this._request("POST", `/campaigns/${enc(campaignId)}/schedule`, {
      send_at: sendAt ? sendAt.toISOString() : null,
    });
    return campaignSummary(scheduled, staff);
  }

  async campaigns(practiceId) {
    const staff = this.staffKeys(practiceId);
    return (await this._request("GET", `/practices/${enc(practiceId)}/campaigns`)).campaigns.map((doc) => campaignSummary(doc, staff));
  }

  /** One campaign with its progress counts (delivered, read, opted out, failed...). */
  async campaign(campaignId) {
    const doc = await this._request("GET", `/campaigns/${enc(campaignId)}`);
    return campaignSummary(doc, this.staffKeys(String(doc.practice_id)));
  }

  pause(campaignId) {
    return this._action(campaignId, "pause");
  }

  resume(campaignId) {
    return this._action(campaignId, "resume");
  }

  cancel(campaignId) {
    return this._action(campaignId, "cancel");
  }

  async _action(campaignId, action) {
    const doc = await this._request("POST", `/campaigns/${enc(campaignId)}/${action}`, {});
    return campaignSummary(doc, this._staff.get(String(doc.practice_id)) ?? null);
  }

  // -- patients

  /**
   * This account's practice announcements, newest first as the server lists them,
   * each opened with this browser's slip: [{campaignId, practiceId, text, read,
   * deliveredAt}] (`text` null: no slip of this browser opens it, or it failed to verify).
   */
  async announcements() {
    const keystore = this._keystore();
    const listing = await this._request("GET", "/announcements");
    const out = [];
    for (const doc of listing.announcements) {
      const opened = await this._open(keystore, doc);
      const announcement = {
        campaignId: doc.campaign_id,
        practiceId: doc.practice_id,
        read: Boolean(doc.read),
        deliveredAt: doc.delivered_at,
        text: opened?.text ?? null,
      };
      // What a report would reveal stays out of the page's object (and its logs).
      if (opened) this._revealable.set(announcement, opened);
      out.push(announcement);
    }
    return out;
  }

  /**
   * Reports an announcement from announcements() to CareChat's moderators with
   * `category` (moderation/reports.py): its text and franking key are revealed and the
   * server checks them against its broadcast stamp. Resolves to "verified" |
   * "unverifiable"; a second report is ApiError `report_already_filed`; one this
   * browser could not open (text null), NotReady.
   */
  async reportAnnouncement(announcement, category = "other") {
    const opened = this._revealable.get(announcement);
    if (!opened) throw new NotReady("this announcement could not be opened here, so it cannot be reported");
    const answer = await this.client.api.report({
      campaign: announcement.campaignId,
      body: toBase64url(opened.body),
      franking_key: toBase64url(opened.frankingKey),
      category,
    });
    return answer.verification;
  }

  async _open(keystore, doc) {
    let body;
    try {
      body = fromBase64url(String(doc.body), MAX_BODY_BYTES);
    } catch {
      return null;
    }
    const campaignId = String(doc.campaign_id);
    for (const slipText of doc.slips) {
      let slip;
      try {
        slip = fromBase64url(String(slipText), 4096);
      } catch {
        continue;
      }
      for (const opener of keystore.openers()) {
        try {
          const sender = await this._sender(body);
          const opened = openBroadcast(body, slip, { opener, sender, campaignId, clientMsgId: campaignId });
          const text = new TextDecoder("utf-8", { fatal: true }).decode(opened.body);
          return { text, body: opened.body, frankingKey: opened.frankingKey };
        } catch {
          // another device's slip, or not verifiable
        }
      }
    }
    return null;
  }

  // The sending device named in the body's header, verified against its account's
  // pinned root key; the header is only a hint: openBroadcast checks the signature.
  async _sender(body) {
    const header = broadcastHeader(body);
    return this.client.directory.device(header.senderAccount, header.senderDevice);
  }

  markRead(campaignId) {
    return this._request("POST", `/announcements/${enc(campaignId)}/read`, {});
  }
}

/** The epoch key `commit` seals to one of `devices`, or null. */
function openWithAny(commit, devices) {
  for (const device of devices) {
    try {
      return openEpochKey(commit, device);
    } catch {
      // not a member device of this epoch
    }
  }
  return null;
}
