// Signs cases with the reference signer: reads a JSON array of
// {"secret", "userId", "note"?} on stdin and writes the same array with
// "token" added, one case a line. Each case sets SENDORA_IDENTITY_SECRET as a
// customer's backend would.
//
// Regenerate the committed vectors (from internal/identity):
//   node testdata/node/sign.mjs < testdata/node/cases.json > testdata/sign_vectors.json
import { readFileSync } from "node:fs";
import { signIdentity } from "./sign-identity.mjs";

const cases = JSON.parse(readFileSync(0, "utf8"));
const out = cases.map((c) => {
  process.env.SENDORA_IDENTITY_SECRET = c.secret;
  return { ...c, token: signIdentity(c.userId) };
});
process.stdout.write("[\n" + out.map((c) => "  " + JSON.stringify(c)).join(",\n") + "\n]\n");
