import type { TlsOptions } from "@nats-io/transport-node";
import type { TlsPem } from "../tls/index.js";

/**
 * The TLS identity a process presents on NATS: the set it checked and put in
 * force, as PEM, never its files. nats.js given file paths reads them again
 * at every reconnect and presents whatever they hold then, a set the process
 * refused included (an expired certificate, another agency's, a key that does
 * not match the certificate). Here the process's TLS file watcher calls
 * `renew` once it has taken a set, and each connection made with `option`
 * presents that set from its next (re)connect on; an open connection is not
 * dropped for it.
 */
export interface NatsTlsInForce {
  /** nats.js's `tls` option; it reads the set in force at every dial. */
  readonly option: TlsOptions;
  current(): TlsPem;
  renew(pem: TlsPem): void;
  /** Hears each set `renew` puts in force (a worker thread's connection is told this way); returns the unsubscribe. */
  onRenew(listener: (pem: TlsPem) => void): () => void;
}

export function natsTlsInForce(atStart: TlsPem): NatsTlsInForce {
  let pem: TlsPem = { ca: atStart.ca, cert: atStart.cert, key: atStart.key };
  const listeners = new Set<(pem: TlsPem) => void>();
  return {
    option: readAtEachDial(() => pem),
    current: () => pem,
    renew(next) {
      pem = { ca: next.ca, cert: next.cert, key: next.key };
      for (const l of listeners) l(pem);
    },
    onRenew(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/**
 * A `tls` option whose ca, cert and key are read from `inForce` when nats.js
 * dials, not when the connection is made.
 *
 * nats.js (3.4) takes TLS material as PEM or as file paths and has no
 * callback for it. What it does, read in its source: connect() copies the
 * options one level deep (nats-core options.js, parseOptions → extend), so it
 * keeps this very object; every dial, the first and each reconnect, runs
 * NodeTransport.startTLS (transport-node node_transport.js), which reads
 * `ca`, `cert` and `key` off it (loadClientCerts) and copies its own
 * enumerable properties into tls.connect's options. Getters of an object
 * literal are own and enumerable, so they are read there, at each dial, and
 * all three in one synchronous step. nats-tls.test.ts holds nats.js to this
 * against a real nats-server: an upgrade that copies the object at connect
 * fails it.
 */
function readAtEachDial(inForce: () => TlsPem): TlsOptions {
  return {
    get ca() {
      return inForce().ca;
    },
    get cert() {
      return inForce().cert;
    },
    get key() {
      return inForce().key;
    },
  };
}
