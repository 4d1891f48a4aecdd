/** A C2SP tlog-witness: cosigns a log's checkpoints only while they extend the last one it cosigned. */

export { witnessApp } from "./http.js";
export type { Witness, WitnessAnswer, WitnessOptions } from "./witness.js";
export { createWitness } from "./witness.js";
