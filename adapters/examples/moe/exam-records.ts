import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type ExamResultSchema,
  type ExamResults,
  ExamResultsSchema,
} from "../../../proto/gen/agencies/moe/v1/education_pb.js";
import { citizenRandom } from "../derive.js";
import type { Citizen, Population } from "../population.js";

const BCSE_SUBJECTS = ["English", "Dzongkha", "Mathematics", "Science", "Social Studies", "Economics"];
const BHSEC_STREAMS: readonly (readonly string[])[] = [
  ["English", "Dzongkha", "Physics", "Chemistry", "Mathematics", "Biology"],
  ["English", "Dzongkha", "Economics", "Accountancy", "Commerce", "Mathematics"],
  ["English", "Dzongkha", "History", "Geography", "Economics", "Environmental Science"],
];
/** The national examinations in their present form began around 2000. */
const FIRST_EXAM_YEAR = 2000;

/**
 * BCSE (class X) in the year a citizen turns 16 and, for most, BHSEC (class
 * XII) two years later; only exams already sat before the census date. Marks
 * follow one ability draw per citizen, so a strong BCSE candidate tends to do
 * well in BHSEC too.
 */
export function examResultsOf(population: Population, c: Citizen): ExamResults | undefined {
  const rand = citizenRandom(population, c, "moe.exam-results");
  const asOfYear = Number(population.asOf.slice(0, 4));
  const bcseYear = Number(c.dateOfBirth.slice(0, 4)) + 16;
  if (bcseYear < FIRST_EXAM_YEAR || bcseYear >= asOfYear) return undefined;
  const ability = 45 + rand() * 45;
  const marksFor = (subjects: readonly string[]) =>
    subjects.map((subject) => ({
      subject,
      mark: Math.max(20, Math.min(99, Math.round(ability + (rand() - 0.5) * 24))),
    }));
  const result = (exam: string, year: number, subjects: readonly string[], school: string) => {
    const marks = marksFor(subjects);
    // English counts always, then the best four of the rest.
    const english = marks.find((m) => m.subject === "English")?.mark ?? 0;
    const best = marks
      .filter((m) => m.subject !== "English")
      .map((m): number => m.mark)
      .sort((a, b) => b - a)
      .slice(0, 4);
    const percentage = Math.round(((english + best.reduce((a, b) => a + b, 0)) / 5) * 10) / 10;
    const indexNumber = `${exam === "BCSE" ? "10" : "12"}${year}${String(Math.floor(rand() * 1e6)).padStart(6, "0")}`;
    return { exam, year, indexNumber, school, marks, percentage } satisfies MessageInitShape<
      typeof ExamResultSchema
    >;
  };
  const results: MessageInitShape<typeof ExamResultSchema>[] = [
    result("BCSE", bcseYear, BCSE_SUBJECTS, `${c.gewog} Central School`),
  ];
  const bhsecYear = bcseYear + 2;
  if (bhsecYear < asOfYear && rand() < 0.8) {
    const stream = BHSEC_STREAMS[Math.floor(rand() * BHSEC_STREAMS.length)] ?? BHSEC_STREAMS[0] ?? [];
    results.push(result("BHSEC", bhsecYear, stream, `${c.dzongkhag} Higher Secondary School`));
  }
  return create(ExamResultsSchema, { citizenId: c.id, results });
}
