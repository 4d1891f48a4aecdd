import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { CitizenRecordSchema, Gender } from "../../proto/gen/agencies/dcrc/v1/citizen_pb.js";
import { fullCitizenRecord } from "../../test/helpers/citizen-record.js";
import { Catalogue } from "../contract/index.js";
import { retainFields } from "./field-mask.js";
import { buildTree, releasedTree } from "./field-tree.js";

const full = () => create(CitizenRecordSchema, fullCitizenRecord());

describe("retainFields", () => {
  it("keeps released top-level fields whole and clears the rest", () => {
    const r = full();
    retainFields(CitizenRecordSchema, r, ["name", "address"]);
    expect(r.name).toBe("Pema Lhamo");
    expect(r.address).toMatchObject({ village: "v", gewog: "g", dzongkhag: "d" });
    expect(r.citizenId).toBe("");
    expect(r.gender).toBe(Gender.UNSPECIFIED);
    expect(r.photoRef).toBe("");
    expect(r.household).toBeUndefined();
  });

  it("keeps a nested path inside every element of a repeated message", () => {
    const r = full();
    retainFields(CitizenRecordSchema, r, ["household.members.name", "address.dzongkhag"]);
    expect(r.household?.householdNumber).toBe("");
    expect(r.household?.members.map((m) => [m.name, m.citizenId, m.relationship])).toEqual([
      ["Pema Lhamo", "", ""],
      ["Karma Dorji", "", ""],
    ]);
    expect(r.address).toMatchObject({ village: "", gewog: "", dzongkhag: "d" });
  });

  it("clears everything when nothing is released", () => {
    const r = full();
    retainFields(CitizenRecordSchema, r, []);
    expect(r).toEqual(create(CitizenRecordSchema));
  });
});

describe("Catalogue", () => {
  it("finds the four agencies' services and their nested field paths", () => {
    const c = Catalogue.load();
    expect([...c.services.keys()].sort()).toEqual([
      "dcrc.citizen-record",
      "moe.exam-results",
      "moh.medical-fitness",
      "moh.vaccination-record",
      "rsta.driving-licence",
    ]);
    const paths = c.get("dcrc.citizen-record")?.fieldPaths;
    expect(paths?.has("household.members.name")).toBe(true);
    expect(paths?.has("address.dzongkhag")).toBe(true);
    expect(paths?.has("address.street")).toBe(false);
    expect(c.get("dcrc.citizen-record")?.recordType.typeName).toBe("agencies.dcrc.v1.CitizenRecord");
  });
});

describe("releasedTree", () => {
  it("is buildTree's tree, made once per list of released fields", () => {
    const a = releasedTree(["name", "address.gewog"]);
    expect(a).toEqual(buildTree(["name", "address.gewog"]));
    expect(releasedTree(["name", "address.gewog"])).toBe(a);
    expect(releasedTree(["name"])).not.toBe(a);
    expect(releasedTree(["name"])).toEqual(buildTree(["name"]));
  });
});
