// The script-tag build: sets window.Sendora.
import Sendora, { setScriptOrigin } from "./sendora";

const s = document.currentScript as HTMLScriptElement | null;
setScriptOrigin(s && s.src ? new URL(s.src).origin : location.origin);
window.Sendora = Sendora;
