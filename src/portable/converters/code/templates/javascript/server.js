// Batch server for portable's "node" runtime: binary requests on stdin, replies on stdout
// (see portable/runtimes/_subprocess.py for the protocol). Exits at end of input.
import { N_FEATURES, N_MARGIN, N_PREDICTION, HAS_STRINGS, predict, margin, UnknownCategoryError } from "./model.js";

let pending = Buffer.alloc(0);

function tryRequest() {
  if (pending.length < 12) return false;
  if (pending.readUInt32LE(0) !== 0x31515250) throw new Error("bad request"); // "PRQ1"
  const n = pending.readUInt32LE(4), kind = pending.readUInt32LE(8), nf = N_FEATURES;
  let at = 12 + 8 * n * nf;
  if (pending.length < at) return false;
  const rowsS = [];
  if (HAS_STRINGS) {
    for (let r = 0; r < n; r++) {
      const row = new Array(nf).fill(null);
      for (let j = 0; j < nf; j++) {
        if (pending.length < at + 4) return false;
        const len = pending.readInt32LE(at);
        at += 4;
        if (len < 0) continue;
        if (pending.length < at + len) return false;
        row[j] = pending.toString("utf8", at, at + len);
        at += len;
      }
      rowsS.push(row);
    }
  }
  const width = kind === 0 ? N_MARGIN : N_PREDICTION;
  const reply = Buffer.alloc(16 + 8 * n * width);
  reply.writeUInt32LE(0x31535250, 0); // "PRS1"
  reply.writeUInt32LE(0, 4);
  reply.writeUInt32LE(n, 8);
  reply.writeUInt32LE(width, 12);
  const x = new Float64Array(nf);
  let r = 0;
  try {
    for (; r < n; r++) {
      for (let j = 0; j < nf; j++) x[j] = pending.readDoubleLE(12 + 8 * (r * nf + j));
      const y = kind === 0 ? margin(x, HAS_STRINGS ? rowsS[r] : null) : predict(x, HAS_STRINGS ? rowsS[r] : null);
      for (let k = 0; k < width; k++) reply.writeDoubleLE(y[k], 16 + 8 * (r * width + k));
    }
    process.stdout.write(reply);
  } catch (e) {
    if (e instanceof UnknownCategoryError) {
      const err = Buffer.alloc(16);
      err.writeUInt32LE(0x31535250, 0); err.writeUInt32LE(1, 4);
      err.writeUInt32LE(r, 8); err.writeUInt32LE(e.column >>> 0, 12);
      process.stdout.write(err);
    } else {
      const msg = Buffer.from(String(e), "utf8");
      const err = Buffer.alloc(12);
      err.writeUInt32LE(0x31535250, 0); err.writeUInt32LE(2, 4); err.writeUInt32LE(msg.length, 8);
      process.stdout.write(Buffer.concat([err, msg]));
    }
  }
  pending = pending.subarray(at);
  return true;
}

process.stdin.on("data", (chunk) => {
  pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
  while (tryRequest()) { /* answer every complete request */ }
});
process.stdin.on("end", () => process.exit(0));
