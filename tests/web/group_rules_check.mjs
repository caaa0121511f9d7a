// The browser's group rules (checkGroupEnvelope in web/src/client/panel.mjs) against
// the protocol's vectors (tests/data/group.json): the group envelope passes with its
// patient as the admitted outsider and fails without; each refused envelope fails for
// the reason the vectors name. Prints one JSON report for tests/web/test_group_rules_js.py.

import { readFile } from "node:fs/promises";
import { parseEnvelope, parseEpochCommit, unhex } from "../../e2e_crypto/js/carechat-e2e.mjs";
import { checkGroupEnvelope } from "../../web/src/client/panel.mjs";

const vectors = JSON.parse(await readFile(new URL("../data/group.json", import.meta.url), "utf-8"));
const commits = vectors.commits.map((c) => parseEpochCommit(unhex(c)));
const current = commits.at(-1);

function verdict(envelopeHex, commit, outsiders) {
  try {
    checkGroupEnvelope(parseEnvelope(unhex(envelopeHex)).header, commit, { outsiders });
    return "accepted";
  } catch (error) {
    return error.reason ?? `unexpected: ${error.message}`;
  }
}

const header = parseEnvelope(unhex(vectors.envelope)).header;
const epochOf = commits.find((c) => c.epoch === header.group.epoch);
process.stdout.write(
  JSON.stringify({
    withOutsiders: verdict(vectors.envelope, epochOf, vectors.outsiders),
    withoutOutsiders: verdict(vectors.envelope, epochOf, []),
    refused: vectors.refused.map((r) => ({ why: r.why, got: verdict(r.envelope, current, r.outsiders) })),
  }),
);
