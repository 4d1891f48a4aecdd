import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import type { ServiceClient } from "../../../core/rpc/index.js";
import type { Exchange } from "../../../proto/gen/xbus/v1/exchange_pb.js";

/** The bus as a consumer system sees it: an xbus.v1.Exchange client over mutual TLS. */
export type ExchangeClient = ServiceClient<typeof Exchange.method>;

export interface Fetched<S extends DescMessage> {
  readonly record: MessageShape<S>;
  readonly exchangeId: string;
  readonly released: readonly string[];
}

/** One Fetch, unpacked into the record type the consumer expects. */
export async function fetchRecord<S extends DescMessage>(
  client: ExchangeClient,
  type: S,
  req: {
    service: string;
    subjectId: string;
    purpose: string;
    fields?: string[];
    consentId?: string;
    requestId?: string;
  },
  timeoutMs = 10_000,
): Promise<Fetched<S>> {
  const res = await client.fetch(req, { deadline: Date.now() + timeoutMs });
  const record = res.record ? anyUnpack(res.record, type) : undefined;
  if (!record) throw new Error(`${req.service} answered without a ${type.typeName}`);
  return { record, exchangeId: res.exchangeId, released: res.releasedFields };
}
