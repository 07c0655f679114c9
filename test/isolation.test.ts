/**
 * Runs every isolation spec (test/isolation/specs.ts) in every permutation it lists: the
 * transcript must be exactly the expected one. A failure prints what the difference means.
 */
import { describe, expect, it } from "vitest";
import { runPermutation } from "./isolation/harness.js";
import { SPECS } from "./isolation/specs.js";

for (const spec of SPECS) {
  describe(`isolation: ${spec.name}`, () => {
    for (const permutation of spec.permutations) {
      it(`permutation ${permutation.steps.join(" ")}`, async () => {
        const transcript = await runPermutation(spec, permutation.steps);
        if (JSON.stringify(transcript) !== JSON.stringify(permutation.expected))
          console.log(transcript);
        expect(transcript, `a failure here means: ${spec.failureMeans}`).toEqual(
          permutation.expected,
        );
      }, 120_000);
    }
  });
}
