import { Client, credentials } from "@grpc/grpc-js";

export interface AdapterClientOptions {
  /** host:port of the adapter. */
  target: string;
  /** PEM: the federation CA, and a certificate the adapter accepts (a connector of its agency). */
  tls: { ca: string; cert: string; key: string };
  /** Name in the adapter's certificate when it differs from the host in `target`. */
  serverName?: string | undefined;
}

/** A plain grpc-js client for the kit: nothing but mutual TLS, as a connector would dial. */
export function adapterClient(o: AdapterClientOptions): Client {
  return new Client(
    o.target,
    credentials.createSsl(Buffer.from(o.tls.ca), Buffer.from(o.tls.key), Buffer.from(o.tls.cert)),
    o.serverName ? { "grpc.ssl_target_name_override": o.serverName } : {},
  );
}
