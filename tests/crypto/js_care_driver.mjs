// Test driver for tests/crypto/test_js_care_interop.py and test_js_payload_interop.py:
// the thread-opening and membership twins (e2e_crypto/js/carechat-care.mjs) and the
// typed payload codec (e2e_crypto/js/carechat-payloads.mjs). Same protocol as js_driver.mjs:
// {"ops": [...]} on stdin, {"results": [...]} on stdout, bytes as lowercase hex; an op
// that throws reports {"ok": false, "error": <class name>}.
import * as cc from "../../e2e_crypto/js/carechat-e2e.mjs";
import * as care from "../../e2e_crypto/js/carechat-care.mjs";
import * as payloads from "../../e2e_crypto/js/carechat-payloads.mjs";

const { hex, unhex } = cc;

const OPS = {
  encode_payload: (op) => ({ body: hex(payloads.encodePayload(op.payload)) }),
  decode_payload: (op) => ({ payload: payloads.decodePayload(unhex(op.body)) }),
  sign_opening: (op) => {
    const opening = care.signOpening(cc.rootKey(unhex(op.root_seed)), {
      threadId: op.thread_id,
      patientAccount: op.patient_account,
      providerKind: op.provider_kind,
      providerId: op.provider_id,
      openedAt: op.opened_at,
    });
    return { opening: hex(opening.encoded) };
  },
  verify_opening: (op) => {
    const opening = care.verifyOpening(unhex(op.opening), { threadId: op.thread_id, patientRootKey: unhex(op.root_public) });
    return { parties: opening.parties, opened_at: opening.openedAt };
  },
  sign_membership: (op) => {
    const list = care.signMembership(cc.rootKey(unhex(op.root_seed)), {
      practiceId: op.practice_id,
      epoch: op.epoch,
      adminAccount: op.admin_account,
      previousDigest: unhex(op.previous_digest),
      members: op.members.map(([accountId, role]) => ({ accountId, role })),
    });
    return { membership: hex(list.encoded), digest: hex(list.digest) };
  },
  verify_membership: (op) => {
    const list = care.verifyMembershipAlone(unhex(op.membership), {
      practiceId: op.practice_id,
      adminAccount: op.admin_account,
      adminRootKey: unhex(op.root_public),
      atLeast: op.at_least ?? 1,
    });
    return { epoch: list.epoch, digest: hex(list.digest), members: list.members.map((m) => [m.accountId, m.role]) };
  },
};

const input = JSON.parse(await new Response(process.stdin).text());
const results = input.ops.map((op) => {
  try {
    return { ok: true, ...OPS[op.op](op) };
  } catch (error) {
    if (error instanceof cc.CryptoError || error instanceof payloads.PayloadError) {
      return { ok: false, error: error.name === "Error" ? error.constructor.name : error.name };
    }
    return { ok: false, error: error.constructor.name, message: String(error) };
  }
});
process.stdout.write(JSON.stringify({ results }));
