// The reference signer of DESIGN.md section 1, as customers run it, less
// its TypeScript annotations (": string" and the non-null "!") so that plain
// node runs it. Do not "improve" it: the server must match it byte for byte.
import { createHmac } from "node:crypto";
export function signIdentity(userId) {
  const mac = createHmac("sha256", process.env.SENDORA_IDENTITY_SECRET).update(userId).digest("hex");
  return `hmac_v1:${mac}`;
}
