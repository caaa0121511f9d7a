// Attachments — twin of e2e_crypto/client/attachments.py. A file is encrypted in the
// page (libsodium secretstream, 64 KiB chunks; the key never leaves the page except
// inside the end-to-end encrypted "attachment" payload), uploaded as ciphertext with
// progress, and on download checked against the digest the sender signed: a file that
// fails its hash, is truncated or extended is refused (AttachmentCorrupted), never
// returned in part.

import { CHUNK_BYTES, decryptAttachment, encryptAttachment, fromBase64url, toBase64url } from "../../../e2e_crypto/js/carechat-e2e.mjs";
import { AttachmentCorrupted } from "./errors.mjs";

function* pieces(bytes) {
  for (let i = 0; i < bytes.length; i += CHUNK_BYTES) yield bytes.subarray(i, i + CHUNK_BYTES);
}

/**
 * Encrypts `file` (File or Blob) and uploads it; returns the attachment payload to send.
 * onProgress({phase: "encrypting"|"uploading", loaded, total}).
 */
export async function uploadAttachment(api, threadId, file, { name = file.name ?? "file", mime = file.type || "application/octet-stream", onProgress = null } = {}) {
  const plaintext = new Uint8Array(await file.arrayBuffer());
  onProgress?.({ phase: "encrypting", loaded: 0, total: plaintext.length });
  const stream = encryptAttachment(pieces(plaintext));
  const chunks = [...stream.chunks];
  const ref = stream.ref();
  const ciphertext = new Blob(chunks, { type: "application/octet-stream" });
  const answer = await api.uploadAttachment(threadId, ciphertext, (p) => onProgress?.({ phase: "uploading", ...p }));
  return {
    t: "attachment",
    attachment_id: String(answer.attachment_id),
    name,
    mime,
    size: ref.plaintextSize,
    key: toBase64url(ref.key),
    digest: toBase64url(ref.ciphertextDigest),
  };
}

/** Downloads, verifies and decrypts an attachment payload into a Blob of its mime type. */
export async function downloadAttachment(api, attachment) {
  const ciphertext = await api.downloadAttachment(attachment.attachment_id);
  let ref;
  try {
    ref = { key: fromBase64url(attachment.key, 32), ciphertextDigest: fromBase64url(attachment.digest, 32), plaintextSize: attachment.size };
  } catch {
    throw new AttachmentCorrupted("the attachment's key or digest is malformed");
  }
  const out = [];
  try {
    for (const chunk of decryptAttachment([ciphertext], ref)) out.push(chunk);
  } catch {
    throw new AttachmentCorrupted("the attachment failed its integrity check");
  }
  return new Blob(out, { type: attachment.mime });
}
