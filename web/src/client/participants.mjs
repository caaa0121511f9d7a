// Who a thread's messages may be encrypted to — twin of e2e_crypto/client/participants.py.
// Before anything is sealed: the thread's (patient, provider kind, provider id) must be
// what the patient signed in the thread opening (verified against her pinned root key,
// or her own on her devices) and is then pinned; a practice's members come only from
// its membership list signed by the pinned admin's root key (no rollback, one list per
// epoch); anyone else the server names is a GhostRecipient and nothing is sent.

import { fromBase64url } from "../../../e2e_crypto/js/carechat-e2e.mjs";
import { MAX_MEMBERSHIP_BYTES, MAX_OPENING_BYTES, verifyMembershipAlone, verifyOpening } from "../../../e2e_crypto/js/carechat-care.mjs";
import { GhostRecipient, TrustError, UntrustedThread } from "./errors.mjs";

const sameBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

export class Memberships {
  constructor(api, directory, keystore) {
    this.api = api;
    this.directory = directory;
    this.keystore = keystore;
    this._lists = new Map(); // practice -> Map(account -> role)
  }

  epoch(practiceId) {
    return this.keystore.practicePin(practiceId)?.epoch ?? 0;
  }

  /** The verified list; refetched unless the cached one names every account in `covering`. */
  async roles(practiceId, covering) {
    const cached = this._lists.get(practiceId);
    if (!cached || [...covering].some((a) => !cached.has(a))) {
      this._lists.set(practiceId, await this._fetch(practiceId));
    }
    return this._lists.get(practiceId);
  }

  /** The verified list, fetched again (the practice console after a change). */
  async refresh(practiceId) {
    this._lists.set(practiceId, await this._fetch(practiceId));
    return this._lists.get(practiceId);
  }

  async _fetch(practiceId) {
    const body = await this.api.membership(practiceId);
    const admin = String(body.admin);
    const pin = this.keystore.practicePin(practiceId);
    if (pin && pin.admin !== admin) throw new TrustError(practiceId, "the practice's admin account changed");
    if (body.membership === null || body.membership === undefined) {
      if (this.epoch(practiceId) > 0) throw new TrustError(practiceId, "a verified list disappeared");
      return new Map();
    }
    await this.directory.devices(admin); // pins the admin's root key (TOFU)
    const root = this.keystore.trustedRoot(admin);
    if (root === null) throw new TrustError(practiceId, "the admin has no root key");
    let list;
    try {
      list = verifyMembershipAlone(fromBase64url(String(body.membership), MAX_MEMBERSHIP_BYTES), {
        practiceId,
        adminAccount: admin,
        adminRootKey: root,
        atLeast: Math.max(1, this.epoch(practiceId)),
      });
    } catch (error) {
      throw new TrustError(practiceId, `membership list does not verify: ${error.message}`);
    }
    const seen = this.keystore.practicePin(practiceId)?.digest ?? null;
    if (list.epoch === this.epoch(practiceId) && seen !== null && !sameBytes(seen, list.digest)) {
      throw new TrustError(practiceId, "another list was verified at this epoch");
    }
    this.keystore.pinPractice(practiceId, admin, list.epoch, list.digest);
    this.keystore.saveSoon();
    return new Map(list.members.map((m) => [m.accountId, m.role]));
  }
}

export class Participants {
  constructor(memberships, directory, keystore) {
    this.memberships = memberships;
    this.directory = directory;
    this.keystore = keystore;
  }

  /** [{accountId, displayName, role}] with verified roles, or throws (see module doc). */
  async verify(summary) {
    const [patient, kind, providerId] = await this.parties(summary);
    const allowed = new Map([[patient, "patient"]]);
    if (kind === "practitioner") {
      allowed.set(providerId, "practitioner");
    } else {
      const covering = new Set(summary.participants.filter((a) => a !== patient));
      for (const [account, role] of await this.memberships.roles(providerId, covering)) allowed.set(account, role);
    }
    if (!allowed.has(this.keystore.accountId)) {
      throw new UntrustedThread(summary.thread_id, "this account is neither its patient nor its provider");
    }
    const names = new Map((summary.members ?? []).map((m) => [m.account_id, m.display_name ?? null]));
    return summary.participants.map((accountId) => {
      const role = allowed.get(accountId);
      if (role === undefined) throw new GhostRecipient(summary.thread_id, accountId);
      return { accountId, displayName: names.get(accountId) ?? null, role };
    });
  }

  /** [patient, provider kind, provider id] as signed by the patient, pinned. */
  async parties(summary) {
    const threadId = summary.thread_id;
    const provider = summary.provider;
    if (!provider || !["practitioner", "practice"].includes(provider.kind)) {
      throw new UntrustedThread(threadId, "it names no provider");
    }
    const claimed = [summary.patient_id, provider.kind, provider.id];
    const pinned = this.keystore.threadPin(threadId);
    if (pinned !== null) {
      if (pinned.join("\n") !== claimed.join("\n")) throw new UntrustedThread(threadId, "its patient or provider changed");
      return pinned;
    }
    if (typeof summary.opening !== "string") throw new UntrustedThread(threadId, "it has no opening signed by its patient");
    let root;
    if (summary.patient_id === this.keystore.accountId) {
      root = this.keystore.root.publicKey;
    } else {
      await this.directory.devices(summary.patient_id); // pins the root key (TOFU)
      root = this.keystore.trustedRoot(summary.patient_id);
      if (root === null) throw new UntrustedThread(threadId, "its patient has no root key");
    }
    let opening;
    try {
      opening = verifyOpening(fromBase64url(summary.opening, MAX_OPENING_BYTES), { threadId, patientRootKey: root });
    } catch (error) {
      throw new UntrustedThread(threadId, `its opening does not verify: ${error.message}`);
    }
    if (opening.parties.join("\n") !== claimed.join("\n")) {
      throw new UntrustedThread(threadId, "its patient signed an opening with other parties");
    }
    this.keystore.pinThread(threadId, claimed);
    this.keystore.saveSoon();
    return claimed;
  }
}
