import { type BareResponderConfig, startBareResponder } from "./bare-responder.js";
import { serveProvider } from "./child.js";

/** The bare chain's responder and backend in a process of their own (split layout). */
serveProvider<BareResponderConfig>(startBareResponder);
