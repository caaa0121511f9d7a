// A practice's people and its signed membership list, for its admin's console —
// twin of CareChatClient.publish_membership in e2e_crypto/client/client.py
// (docs/protocol.md "Practice membership").
//
//   PracticesClient(client)
//     ├── mine: the practices this account works in, by name, with its roles there
//     ├── practice / people: the practice (its name) and, for its admins, everyone it
//     │   deals with by display name (admins, listed members, accounts offered a role)
//     ├── membership: the current list, verified against the admin's pinned root key
//     │   (the thread code's Memberships: no rollback, one list per epoch)
//     ├── propose / withdrawOffer: offer a role to the account using an e-mail
//     │   address; take it back (the admin) while no signed list names the account
//     ├── offers / acceptOffer / declineOffer: the roles offered to this account, by
//     │   practice name; its consent, or its refusal (also withdraws a consent)
//     └── publishMembership: the next list, signed here with this account's root key
//
// The list is signed in the page like the GP panel's and the staff group's epochs:
// the root key never leaves the keystore, the server gets the signed bytes.

import { fromBase64url, toBase64url } from "../../../e2e_crypto/js/carechat-e2e.mjs";
import { MAX_MEMBERSHIP_BYTES, parseMembership, signMembership } from "../../../e2e_crypto/js/carechat-care.mjs";
import { NotReady, TrustError } from "./errors.mjs";

const API = "/api/v1";
const enc = encodeURIComponent;
const NO_PREVIOUS = new Uint8Array(32);
const sameBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

export class PracticesClient {
  constructor(client) {
    this.client = client;
  }

  _request(method, path, json = undefined) {
    return this.client.api.request(method, `${API}${path}`, json);
  }

  _keystore() {
    if (this.client.keystore === null) throw new NotReady("create or restore keys first");
    return this.client.keystore;
  }

  /** The practices this account administers or is listed in, by name: [{practiceId, name, roles}] (roles ⊆ admin, practitioner, staff). */
  async mine() {
    const body = await this._request("GET", "/practices");
    return body.practices.map((p) => ({
      practiceId: String(p.practice_id),
      name: String(p.name),
      roles: p.roles.map(String),
    }));
  }

  /** The server's practice JSON: {practice_id, name, admin, practitioners, staff, membership_epoch}. */
  practice(practiceId) {
    return this._request("GET", `/practices/${enc(practiceId)}`);
  }

  /** The practice's admins only: [{accountId, displayName, role, invitation: {role, accepted}|null}]. */
  async people(practiceId) {
    const body = await this._request("GET", `/practices/${enc(practiceId)}/people`);
    return body.people.map((p) => ({
      accountId: String(p.account_id),
      displayName: p.display_name ?? null,
      role: p.role ?? null,
      invitation: p.invitation ? { role: String(p.invitation.role), accepted: Boolean(p.invitation.accepted) } : null,
    }));
  }

  /** The current list, verified: {epoch, members: [{accountId, role}]} (epoch 0: none yet). */
  async membership(practiceId) {
    const memberships = this.client.participantsCheck?.memberships;
    if (!memberships) throw new NotReady("create or restore keys first");
    const roles = await memberships.refresh(practiceId);
    return {
      epoch: memberships.epoch(practiceId),
      members: [...roles].map(([accountId, role]) => ({ accountId, role })),
    };
  }

  /** Offers `role` ("practitioner" | "staff") to the account using `email`; 404 for none. */
  propose(practiceId, email, role) {
    return this._request("POST", `/practices/${enc(practiceId)}/members`, { email, role });
  }

  /**
   * The admin takes back the role offered to `accountId` (accepted or not); ApiError
   * member_on_signed_list once a signed list names it (publish the next one without it).
   */
  withdrawOffer(practiceId, accountId) {
    return this._request("DELETE", `/practices/${enc(practiceId)}/members/${enc(accountId)}`);
  }

  /** The roles offered to this account: [{practiceId, name, role, accepted}] (accepted: consented, not necessarily listed yet). */
  async offers() {
    const body = await this._request("GET", "/practice-invitations");
    return body.invitations.map((i) => ({
      practiceId: String(i.practice_id),
      name: String(i.name),
      role: String(i.role),
      accepted: Boolean(i.accepted),
    }));
  }

  /** This account consents to the role `practiceId` offered it; its admin then lists it. */
  acceptOffer(practiceId) {
    return this._request("POST", `/practices/${enc(practiceId)}/membership/accept`);
  }

  /** Declines the offer (or withdraws the consent): the offer is gone, no later list may name this account. */
  declineOffer(practiceId) {
    return this._request("DELETE", `/practices/${enc(practiceId)}/membership/consent`);
  }

  /**
   * Signs exactly `members` ([{accountId, role}]) as the next list with this account's
   * root key and publishes it; returns its epoch. Each must have accepted that role
   * (else ApiError member_not_consented).
   */
  async publishMembership(practiceId, members) {
    const keystore = this._keystore();
    const stored = (await this._request("GET", `/practices/${enc(practiceId)}/membership`)).membership;
    const previous = this._previous(practiceId, stored ?? null);
    const signed = signMembership(keystore.root, {
      practiceId,
      epoch: (previous?.epoch ?? 0) + 1,
      adminAccount: keystore.accountId,
      previousDigest: previous?.digest ?? NO_PREVIOUS,
      members: members.map((m) => ({ accountId: m.accountId, role: m.role })),
    });
    await this._request("PUT", `/practices/${enc(practiceId)}/membership`, { membership: toBase64url(signed.encoded) });
    // Our own rollback pin, as the SDK: an older list served later is refused.
    keystore.pinPractice(practiceId, keystore.accountId, signed.epoch, signed.digest);
    keystore.saveSoon();
    return signed.epoch;
  }

  /** The list the next one chains to (the SDK's _previous_membership). */
  _previous(practiceId, stored) {
    const keystore = this._keystore();
    const pin = keystore.practicePin(practiceId);
    if (stored === null) {
      if (pin && pin.epoch > 0) throw new TrustError(practiceId, "the published membership list disappeared");
      return null;
    }
    let previous;
    try {
      previous = parseMembership(fromBase64url(String(stored), MAX_MEMBERSHIP_BYTES));
    } catch (error) {
      throw new TrustError(practiceId, `the stored membership list does not parse: ${error.message}`);
    }
    if (previous.practiceId !== practiceId || previous.adminAccount !== keystore.accountId) {
      throw new TrustError(practiceId, "the stored membership list is not this practice's or ours");
    }
    if (pin) {
      if (previous.epoch < pin.epoch) throw new TrustError(practiceId, "the stored membership list is older than one we published");
      if (previous.epoch === pin.epoch && pin.digest && !sameBytes(pin.digest, previous.digest)) {
        throw new TrustError(practiceId, "the stored membership list is not the one we published");
      }
    }
    return previous;
  }
}
