/**
 * One deterministic synthetic population shared by the example agencies: the
 * same citizens, from the same seed, in every agency's records. Names and
 * places are common Bhutanese ones; the people are not real.
 */
export interface Citizen {
  readonly id: string;
  readonly name: string;
  /** YYYY-MM-DD */
  readonly dateOfBirth: string;
  readonly gender: "female" | "male";
  readonly householdNumber: string;
  readonly relationship: "head" | "spouse" | "child";
  readonly village: string;
  readonly gewog: string;
  readonly dzongkhag: string;
}

export interface Population {
  readonly seed: number;
  /** The census date ages are counted from, YYYY-MM-DD. */
  readonly asOf: string;
  readonly citizens: readonly Citizen[];
  readonly byId: ReadonlyMap<string, Citizen>;
  readonly households: ReadonlyMap<string, readonly Citizen[]>;
}

/** mulberry32: tiny, fast, and the same sequence on every platform for a seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FEMALE = [
  "Pema",
  "Dechen",
  "Sonam",
  "Kinley",
  "Choki",
  "Deki",
  "Tshering",
  "Yangchen",
  "Karma",
  "Namgay",
  "Sangay",
  "Dorji",
  "Ugyen",
  "Tashi",
  "Kezang",
  "Phuntsho",
  "Rinzin",
  "Dawa",
  "Chimi",
  "Yeshi",
];
const FEMALE_2 = [
  "Wangmo",
  "Lhamo",
  "Zangmo",
  "Choden",
  "Yangzom",
  "Pelden",
  "Dema",
  "Bidha",
  "Yuden",
  "Lham",
  "Seldon",
  "Om",
];
const MALE = [
  "Tashi",
  "Karma",
  "Sonam",
  "Dorji",
  "Kinley",
  "Ugyen",
  "Jigme",
  "Tshering",
  "Sangay",
  "Namgay",
  "Pema",
  "Tenzin",
  "Kuenga",
  "Thinley",
  "Phuntsho",
  "Rinchen",
  "Nima",
  "Passang",
  "Chencho",
  "Yeshi",
];
const MALE_2 = [
  "Wangchuk",
  "Dorji",
  "Tshering",
  "Gyeltshen",
  "Norbu",
  "Penjor",
  "Tobgay",
  "Rabten",
  "Wangdi",
  "Namgyel",
  "Tenzin",
  "Jamtsho",
];

/** Dzongkhags with a few of their gewogs. */
export const PLACES: readonly (readonly [string, readonly string[]])[] = [
  ["Thimphu", ["Chang", "Kawang", "Mewang", "Genye"]],
  ["Paro", ["Dopshari", "Lango", "Shaba", "Wangchang"]],
  ["Punakha", ["Toepisa", "Kabjisa", "Guma", "Talo"]],
  ["Wangdue Phodrang", ["Bjena", "Gase Tshogom", "Phangyuel", "Rubisa"]],
  ["Bumthang", ["Chhoekhor", "Chhume", "Tang", "Ura"]],
  ["Trashigang", ["Bartsham", "Kanglung", "Radhi", "Samkhar"]],
  ["Mongar", ["Chaskhar", "Drametse", "Ngatshang", "Tsakaling"]],
  ["Samtse", ["Dorokha", "Norbugang", "Tashichhoeling", "Ugyentse"]],
  ["Chhukha", ["Bongo", "Darla", "Dungna", "Phuentsholing"]],
  ["Haa", ["Bji", "Katsho", "Samar", "Uesu"]],
  ["Trongsa", ["Drakteng", "Korphu", "Langthil", "Nubi"]],
  ["Zhemgang", ["Bardo", "Nangkor", "Phangkhar", "Trong"]],
];
const VILLAGE_PARTS = [
  "Dra",
  "Gom",
  "Lung",
  "Pang",
  "Kha",
  "Ri",
  "Tha",
  "Yul",
  "Zam",
  "Chu",
  "Dzong",
  "Gang",
];
const VILLAGE_ENDS = ["kha", "gang", "thang", "ling", "dra", "pang", "zam", "chu"];

export interface PopulationOptions {
  seed?: number;
  /** Approximate number of citizens; whole households are made. Default 5,000. */
  size?: number;
  /** The census date ages are counted from. Default 2026-01-01, so output does not depend on today. */
  asOf?: string;
}

export function createPopulation(options: PopulationOptions = {}): Population {
  const seed = options.seed ?? 975;
  const size = options.size ?? 5000;
  const asOf = options.asOf ?? "2026-01-01";
  const asOfYear = Number(asOf.slice(0, 4));
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const used = new Set<string>();
  const newId = () => {
    for (;;) {
      const id = `1${String(int(0, 9_999_999_999)).padStart(10, "0")}`;
      if (!used.has(id)) {
        used.add(id);
        return id;
      }
    }
  };
  const date = (year: number) =>
    `${year}-${String(int(1, 12)).padStart(2, "0")}-${String(int(1, 28)).padStart(2, "0")}`;
  const person = (gender: "female" | "male") =>
    gender === "female" ? `${pick(FEMALE)} ${pick(FEMALE_2)}` : `${pick(MALE)} ${pick(MALE_2)}`;

  const citizens: Citizen[] = [];
  const households = new Map<string, Citizen[]>();
  let h = 0;
  while (citizens.length < size) {
    h++;
    const [dzongkhag, gewogs] = pick(PLACES);
    const gewog = pick(gewogs);
    const village = `${pick(VILLAGE_PARTS)}${pick(VILLAGE_ENDS)}`;
    const householdNumber = `${String(h).padStart(6, "0")}`;
    const members: Citizen[] = [];
    const add = (gender: "female" | "male", birthYear: number, relationship: Citizen["relationship"]) => {
      const c: Citizen = {
        id: newId(),
        name: person(gender),
        dateOfBirth: date(birthYear),
        gender,
        householdNumber,
        relationship,
        village,
        gewog,
        dzongkhag,
      };
      members.push(c);
      citizens.push(c);
    };
    const headGender = rand() < 0.5 ? "female" : "male";
    const headYear = asOfYear - int(28, 75);
    add(headGender, headYear, "head");
    if (rand() < 0.8) add(headGender === "female" ? "male" : "female", headYear + int(-5, 5), "spouse");
    const children = int(0, 4);
    for (let i = 0; i < children; i++)
      add(rand() < 0.5 ? "female" : "male", Math.min(asOfYear - 1, headYear + int(20, 38)), "child");
    households.set(householdNumber, members);
  }
  return { seed, asOf, citizens, byId: new Map(citizens.map((c) => [c.id, c])), households };
}
