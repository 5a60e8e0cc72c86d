/**
 * CI sets VITEST_JSON to a file path: every suite then also writes vitest's JSON report there, and
 * .ci/run sums them into one "N passed, N failed" line.
 */
export function ciReporters(): { reporters: string[]; outputFile?: { json: string } } {
  const file = process.env.VITEST_JSON;
  return file ? { reporters: ["default", "json"], outputFile: { json: file } } : { reporters: ["default"] };
}
