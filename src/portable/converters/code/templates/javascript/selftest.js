// Self-test: golden rows computed by portable's reference evaluator at export time.
// Margins of tree models must match exactly; links within the tolerance stored per value
// (float32 links: 4 ULP; float64: 1e-12 relative). Exit status 0 when every value passes.
import { predict, margin } from "./model.js";

const X = {{inputs}};
const S = {{strings}};
const EXPECTED = {
  margin: [margin, {{margin}}, {{margin_tol}}],
  prediction: [predict, {{prediction}}, {{prediction_tol}}],
};

let bad = 0;
for (const [what, [fn, want, tol]] of Object.entries(EXPECTED)) {
  X.forEach((x, r) => {
    const got = fn(Float64Array.from(x), S[r]);
    want[r].forEach((w, k) => {
      const g = got[k];
      if (!(g === w || (Number.isNaN(g) && Number.isNaN(w)) || Math.abs(g - w) <= tol[r][k])) {
        process.stderr.write(`${what} row ${r} value ${k}: got ${g}, expected ${w}\n`);
        bad++;
      }
    });
  });
}
if (bad) {
  process.stderr.write(`selftest: ${bad} values differ\n`);
  process.exit(1);
}
console.log(`selftest: ${X.length} golden rows OK`);
