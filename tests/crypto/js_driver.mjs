// Test driver for tests/crypto/test_js_interop.py: reads {"ops": [...]} as JSON on
// stdin, runs each op against e2e_crypto/js/carechat-e2e.mjs, writes
// {"results": [...]} to stdout. Bytes travel as lowercase hex. An op that throws
// reports {"ok": false, "error": <class name>} so the Python side can assert on it.
import * as cc from "../../e2e_crypto/js/carechat-e2e.mjs";
import { parseRosterCsv } from "../../web/src/client/roster.mjs";

const { hex, unhex } = cc;

function device(d) {
  return cc.deviceKeys(d.account_id, d.device_id, unhex(d.encryption_secret), unhex(d.signing_seed));
}

function verified(v) {
  return cc.verifyDeviceCertificate(unhex(v.certificate), { accountId: v.account_id, rootKey: unhex(v.root_public) });
}

function commitChain(commits, adminAccount, adminRoot) {
  let previous = null;
  for (const c of commits) {
    previous = cc.verifyEpochCommit(unhex(c), { adminAccount, adminRootKey: unhex(adminRoot), previous });
  }
  return previous;
}

function opener(op) {
  if (op.epoch_opener) {
    const e = op.epoch_opener;
    const commit = commitChain(e.commits, e.admin_account, e.admin_root);
    return cc.openEpochKey(commit, device(e.device));
  }
  return device(op.opener);
}

const OPS = {
  primitives: (op) => ({
    digest: hex(cc.digest(new TextEncoder().encode(op.digest.label), unhex(op.digest.data))),
    derive: hex(cc.derive(unhex(op.derive.secret), unhex(op.derive.person))),
    mac: hex(cc.mac(unhex(op.mac.secret), unhex(op.mac.person), unhex(op.mac.data))),
  }),
  verify_certificate: (op) => {
    const v = verified(op);
    return { device_id: v.deviceId, encryption_key: hex(v.encryptionKey) };
  },
  socket_proof: (op) => ({ proof: hex(cc.signSocketProof(device(op.device), op.ticket)) }),
  certify: (op) => ({ certificate: hex(cc.certifyDevice(cc.rootKey(unhex(op.root_seed)), device(op.device))) }),
  parse_envelope: (op) => {
    const p = cc.parseEnvelope(unhex(op.envelope));
    return { thread_id: p.header.threadId, client_msg_id: p.header.clientMsgId, kind: p.header.kind,
      recipients: p.header.recipients.length };
  },
  open_envelope: (op) => {
    const m = cc.openMessage(unhex(op.envelope), {
      opener: opener(op), sender: verified(op.sender), threadId: op.thread_id, clientMsgId: op.client_msg_id,
      group: op.group ? { groupId: op.group.group_id, epoch: op.group.epoch } : null,
    });
    return { body: hex(m.body), franking_key: hex(m.frankingKey), kind: m.header.kind };
  },
  seal_envelope: (op) => {
    const epochs = (op.to_epochs ?? []).map((e) => commitChain(e.commits, e.admin_account, e.admin_root));
    const envelope = cc.sealMessage(device(op.sender), {
      threadId: op.thread_id, clientMsgId: op.client_msg_id, body: unhex(op.body),
      toDevices: op.to.map(verified), toEpochs: epochs,
      group: op.group ? { groupId: op.group.group_id, epoch: op.group.epoch } : null,
    });
    return { envelope: hex(envelope), base64url: cc.toBase64url(envelope) };
  },
  open_epoch_key: (op) => {
    const key = cc.openEpochKey(commitChain(op.commits, op.admin_account, op.admin_root), device(op.device));
    return { epoch: key.epoch, public_key: hex(key.publicKey) };
  },
  open_broadcast: (op) => {
    const m = cc.openBroadcast(unhex(op.body), unhex(op.slip), {
      opener: device(op.opener), sender: verified(op.sender), campaignId: op.campaign_id, clientMsgId: op.client_msg_id,
    });
    return { body: hex(m.body) };
  },
  seal_broadcast: (op) => {
    const sealed = cc.sealBroadcast(device(op.sender), {
      campaignId: op.campaign_id, clientMsgId: op.client_msg_id, body: unhex(op.body), toDevices: op.to.map(verified),
    });
    return { body: hex(sealed.body), slips: Object.fromEntries([...sealed.slips].map(([k, v]) => [k, hex(v)])) };
  },
  create_epoch_commit: (op) => {
    const { commit, key } = cc.createEpochCommit(cc.rootKey(unhex(op.admin_root_seed)), {
      adminAccount: op.admin_account, groupId: op.group_id, members: op.members.map(verified), previous: null,
    });
    return { commit: hex(commit), public_key: hex(key.publicKey), secret: hex(key.secret) };
  },
  parse_roster: (op) => {
    try {
      const parsed = parseRosterCsv(unhex(op.data));
      return { rows: parsed.rows, rejected: parsed.rejected };
    } catch (e) {
      return { format_error: e.reason };
    }
  },
  seal_labels: (op) => ({ sealed: hex(cc.sealLabels(op.labels, unhex(op.staff_key))) }),
  open_labels: (op) => {
    const key = cc.openEpochKey(commitChain(op.commits, op.admin_account, op.admin_root), device(op.device));
    return { labels: cc.openLabels(unhex(op.sealed), key) };
  },
  safety_number: (op) => {
    const digits = cc.safetyNumber(op.a.account_id, unhex(op.a.root_public), op.b.account_id, unhex(op.b.root_public));
    return { digits, formatted: cc.formatSafetyNumber(digits) };
  },
  franking_commitment: (op) => ({
    commitment: hex(cc.frankingCommitment(unhex(op.franking_key), unhex(op.body), {
      kind: cc.FRANKING_KIND[op.kind.toUpperCase()], threadId: op.thread_id, clientMsgId: op.client_msg_id, senderAccount: op.sender_account, senderDevice: op.sender_device,
    })),
  }),
  encrypt_attachment: (op) => {
    const plain = unhex(op.plaintext);
    const pieces = [];
    for (let i = 0; i < plain.length; i += 10000) pieces.push(plain.subarray(i, i + 10000));
    const { chunks, ref } = cc.encryptAttachment(pieces);
    const out = [...chunks];
    return { ciphertext: hex(Uint8Array.from(out.flatMap((c) => [...c]))), ref: hex(cc.encodeAttachmentRef(ref())) };
  },
  decrypt_attachment: (op) => {
    const parts = [...cc.decryptAttachment([unhex(op.ciphertext)], cc.parseAttachmentRef(unhex(op.ref)))];
    return { plaintext: parts.map(hex).join("") };
  },
  seal_backup: (op) => {
    const a = op.account;
    const account = { accountId: a.account_id, root: cc.rootKey(unhex(a.root_seed)),
      devices: a.devices.map((d) => device({ ...d, account_id: a.account_id })) };
    return { blob: hex(cc.sealBackup(account, op.passphrase, { opslimit: op.opslimit, memlimitKib: op.memlimit_kib })) };
  },
  open_backup: (op) => {
    const a = cc.openBackup(unhex(op.blob), op.passphrase);
    return { account_id: a.accountId, root_seed: hex(a.root.seed),
      devices: a.devices.map((d) => ({ device_id: d.deviceId, encryption_secret: hex(d.encryptionSecret), signing_seed: hex(d.signingSeed) })) };
  },
  base64url: (op) => {
    try {
      return { bytes: hex(cc.fromBase64url(op.text)) };
    } catch (e) {
      return { error: e.constructor.name };
    }
  },
};

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = JSON.parse(input).ops.map((op) => {
  try {
    return { ok: true, ...OPS[op.op](op) };
  } catch (e) {
    if (!(e instanceof cc.CryptoError)) return { ok: false, error: e.constructor.name, message: String(e.stack) };
    return { ok: false, error: e.constructor.name };
  }
});
process.stdout.write(JSON.stringify({ results }));
