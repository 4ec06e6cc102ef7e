#!/usr/bin/env node
// Command-line stub: CSV rows on stdin, one prediction row per line on stdout.
//
//   node cli.js [--margin] < rows.csv
//
// A first row equal to the feature names is a header and is skipped. Numeric cells that
// are empty, nan, na or null are missing values; quoted cells follow RFC 4180; cells are
// trimmed. Float32 models print the shortest text that reads back as the same float32,
// float64 models String(v). Exit status: 0 ok, 2 bad input. Empty lines are skipped, and
// so are blank ones when the model has more than one column (",," is a row of missing
// values; a one-column model reads a blank line or "" as an empty value).
import { readFileSync } from "node:fs";
import { FEATURE_NAMES, STRING_COLUMNS, OUTPUT_FLOAT32, predict, margin } from "./model.js";

function records(text) {
  const out = [];
  let row = [], cell = "", quoted = false, touched = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== "\n" && !(c === "\r" && text[i + 1] === "\n")) touched = true;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { cell += '"'; i++; } else quoted = false;
      } else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(cell.trim()); cell = ""; }
    else if (c === "\n") {
      if (touched) { row.push(cell.trim()); out.push(row); } else out.push([]);  // [] = empty line
      row = []; cell = ""; touched = false;
    } else if (c !== "\r" || text[i + 1] !== "\n") cell += c;
  }
  if (cell !== "" || row.length) { row.push(cell.trim()); out.push(row); }
  return out;
}

function f32Text(v) {
  if (!Number.isFinite(v)) return String(v);
  for (let p = 6; p <= 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return String(Number(s));
  }
  return String(v);
}

function fail(msg) {
  process.stderr.write("error: " + msg + "\n");
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.length > 1 || (args.length === 1 && args[0] !== "--margin")) {
  process.stderr.write("usage: node cli.js [--margin] < rows.csv\n");
  process.exit(2);
}
const fn = args.length ? margin : predict;
const fmt = OUTPUT_FLOAT32 ? f32Text : String;
const lines = [];
let first = true, n = 0;
for (const cells of records(readFileSync(0, "utf8"))) {
  // An empty line, or a blank one where a row needs several cells, is no record.
  if (!cells.length || (FEATURE_NAMES.length > 1 && cells.length === 1 && cells[0] === "")) continue;
  n++;
  if (first && cells.length === FEATURE_NAMES.length && cells.every((c, j) => c === FEATURE_NAMES[j])) {
    first = false;
    continue;
  }
  first = false;
  if (cells.length !== FEATURE_NAMES.length) fail("row " + n + ": wrong number of columns");
  const x = new Float64Array(cells.length), s = new Array(cells.length).fill(null);
  cells.forEach((c, j) => {
    if (STRING_COLUMNS[j]) { s[j] = c; return; }
    const low = c.toLowerCase();
    if (low === "" || low === "nan" || low === "na" || low === "null") { x[j] = NaN; return; }
    const v = Number(c);
    if (Number.isNaN(v)) fail("row " + n + ", column " + (j + 1) + ": not a number");
    x[j] = v;
  });
  try {
    lines.push(Array.from(fn(x, s), fmt).join(","));
  } catch (e) {
    fail("row " + n + ": " + e.message);
  }
}
process.stdout.write(lines.length ? lines.join("\n") + "\n" : "");
