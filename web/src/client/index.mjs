// The client library's public names (API.md). Page code imports only this module and
// web/src/ui/*. Importing it loads the end-to-end crypto: carechat-e2e.mjs awaits
// libsodium's WebAssembly at its top level, so a page's main.mjs runs only once every
// primitive is usable (and the page's CSP must allow 'wasm-unsafe-eval').
export { DecryptionFailed } from "../../../e2e_crypto/js/carechat-e2e.mjs";
export { CareChatClient, threadSummary } from "./client.mjs";
export {
  ApiError,
  AttachmentCorrupted,
  CareChatError,
  GhostRecipient,
  IdentityExists,
  NotReady,
  RootKeyChanged,
  SessionRevoked,
  TrustError,
  UntrustedThread,
} from "./errors.mjs";
export { PayloadError, decodePayload, encodePayload, normalizePayload } from "./messages.mjs";
export { NoDevices, PanelClient, StaleEpoch, checkGroupEnvelope } from "./panel.mjs";
export { RuleSet, TRIAGE_RULES, normalise } from "./triage.mjs";
export { MailingsClient, campaignSummary, staffGroupId } from "./mailings.mjs";
export { PracticesClient } from "./practices.mjs";
export { LANGUAGES as ROSTER_LANGUAGES, RosterFormatError, decodeRoster, parseRosterCsv } from "./roster.mjs";
export { PAID_CHAT_TERMS, PaymentsClient } from "./payments.mjs";
export { ModerationClient, revealedText } from "./moderation.mjs";
export { PER_PRACTICE, PURPOSES, RightsClient } from "./rights.mjs";
export { PersonalDataClient } from "./personal_data.mjs";
