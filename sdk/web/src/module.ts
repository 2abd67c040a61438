// The ES module build: `import Sendora from ".../sdk/v1/sendora.mjs"`.
import Sendora, { setScriptOrigin } from "./sendora";

setScriptOrigin(new URL(import.meta.url).origin);

export default Sendora;
export type { FlushResult, IdentifyOptions, Properties, Rejection, SendoraEvent, SendoraOptions } from "./sendora";
