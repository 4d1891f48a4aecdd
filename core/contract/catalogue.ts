import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FileRegistry } from "@bufbuild/protobuf";
import {
  createFileRegistry,
  type DescField,
  type DescMessage,
  fromBinary,
  getOption,
  hasOption,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { record as recordOption } from "../../proto/gen/xbus/v1/options_pb.js";
import { parseServiceName, type ServiceName } from "./service-name.js";

export interface CatalogueService {
  readonly service: ServiceName;
  readonly recordType: DescMessage;
  readonly description: string;
  /** Every valid field path of the record type, e.g. `household.members.name`. */
  readonly fieldPaths: ReadonlySet<string>;
}

const AGENCY_PACKAGE = /^agencies\.([a-z][a-z0-9-]*)\.v[0-9]+$/;
/** Field paths never nest deeper than this; a recursive message type stops here. */
const MAX_PATH_DEPTH = 6;

/**
 * The federation's service catalogue, read from the descriptor set built from
 * proto/ (`npm run generate` writes proto/gen/catalogue.binpb). A message with
 * the (xbus.v1.record) option in package `agencies.<agency>.v1` is the record
 * type of service `<agency>.<service>`.
 */
export class Catalogue {
  readonly registry: FileRegistry;
  readonly services: ReadonlyMap<string, CatalogueService>;

  private constructor(registry: FileRegistry) {
    this.registry = registry;
    const services = new Map<string, CatalogueService>();
    for (const type of registry) {
      if (type.kind !== "message" || !hasOption(type, recordOption)) continue;
      const opts = getOption(type, recordOption);
      const pkg = AGENCY_PACKAGE.exec(type.file.proto.package);
      if (!pkg?.[1]) {
        throw new Error(`${type.typeName} has (xbus.v1.record) but is not in a package agencies.<agency>.v1`);
      }
      const service = parseServiceName(`${pkg[1]}.${opts.service}`, `(xbus.v1.record) of ${type.typeName}`);
      if (services.has(service.full))
        throw new Error(`service ${service.full} is declared twice in the catalogue`);
      services.set(service.full, {
        service,
        recordType: type,
        description: opts.description,
        fieldPaths: fieldPathsOf(type),
      });
    }
    this.services = services;
  }

  static fromBytes(descriptorSet: Uint8Array): Catalogue {
    return new Catalogue(createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet)));
  }

  /** Loads the descriptor set; by default the one `npm run generate` wrote. */
  static load(path = defaultCataloguePath()): Catalogue {
    return Catalogue.fromBytes(readFileSync(path));
  }

  get(service: string): CatalogueService | undefined {
    return this.services.get(service);
  }
}

/** Every valid field path of a message type, nested ones included. */
export function fieldPathsOf(type: DescMessage): Set<string> {
  const paths = new Set<string>();
  const walk = (message: DescMessage, prefix: string, depth: number) => {
    for (const field of message.fields) {
      const path = prefix + field.name;
      paths.add(path);
      const child = messageOf(field);
      if (child && depth < MAX_PATH_DEPTH) walk(child, `${path}.`, depth + 1);
    }
  };
  walk(type, "", 1);
  return paths;
}

function messageOf(field: DescField): DescMessage | undefined {
  if (field.fieldKind === "message") return field.message;
  if (field.fieldKind === "list" && field.listKind === "message") return field.message;
  return undefined;
}

function defaultCataloguePath(): string {
  // Walk up from this file so the same code works from sources (tsx, vitest) and from dist/.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, "proto", "gen", "catalogue.binpb");
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error("proto/gen/catalogue.binpb not found: run `npm run generate`");
}
