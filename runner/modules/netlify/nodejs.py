"""The Node.js side of validation, run on the host: syntax checks (each file compiled by V8
in this one process, as `node --check` compiles it but without a process per file, in up to
`concurrency` worker threads for large sites; a file that fails is checked again with
`node --check`, a bounded number at once, for its line and message;
TypeScript through the site's esbuild or typescript when present), module
resolution by Node itself (`require.resolve` for require, `import.meta.resolve` for import, so
`exports` maps, conditions and scoped packages resolve exactly as Node resolves them), and the
nearest package.json of each function. Reads a job (JSON) from the file named by argv[1]."""

from __future__ import annotations

SCRIPT = r"""
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import os from 'node:os';
import vm from 'node:vm';
import path from 'node:path';
import { builtinModules, createRequire } from 'node:module';
import { pathToFileURL, fileURLToPath } from 'node:url';

const job = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
const TS_EXT = ['.ts', '.tsx', '.mts', '.cts'];
const REL_EXT = ['', '.js', '.mjs', '.cjs', '.ts', '.tsx', '.mts', '.cts', '.json', '.node'];

const packageCache = new Map();
function nearestPackage(file) {
  const dir = path.dirname(file);
  if (!packageCache.has(dir)) packageCache.set(dir, findPackage(dir));
  return packageCache.get(dir);
}

function findPackage(start) {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) {
      try { return { path: candidate, json: JSON.parse(fs.readFileSync(candidate, 'utf8')) }; }
      catch (e) { return { path: candidate, json: null, error: e.message }; }
    }
    if (dir === path.dirname(dir)) return null;
  }
}

function isModule(file, esm) {
  if (file.endsWith('.mjs') || file.endsWith('.mts')) return true;
  if (file.endsWith('.cjs') || file.endsWith('.cts')) return false;
  const pkg = nearestPackage(file);
  return esm || (pkg && pkg.json && pkg.json.type === 'module');
}

// Compiles files as `node --check` does (V8's parser; nothing runs) and posts the ones that
// fail. In worker threads for many files, at most job.concurrency (ES modules, like this script:
// workers inherit --input-type=module).
const COMPILE_BODY = `
const failed = [];
for (const item of workerData) {
  try {
    const source = fs.readFileSync(item.file, 'utf8');
    if (item.module) new vm.SourceTextModule(source, { identifier: item.file });
    else vm.compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'],
                            { filename: item.file });
  } catch (e) { failed.push(item.file); }
}
`;
const COMPILE = `import { parentPort, workerData } from 'node:worker_threads';
import fs from 'node:fs';
import vm from 'node:vm';
${COMPILE_BODY}
parentPort.postMessage(failed);`;
const compileHere = new Function('workerData', 'fs', 'vm', COMPILE_BODY + 'return failed;');
async function compileAll(items) {
  const wanted = Math.ceil(items.length / job.files_per_thread);
  const threads = Math.min(job.concurrency, os.availableParallelism(), wanted);
  if (threads <= 1) return new Set(compileHere(items, fs, vm));
  const slices = Array.from({ length: threads },
                            (_, k) => items.filter((_, i) => i % threads === k));
  const failed = await Promise.all(slices.map((slice) => new Promise((done, fail) => {
    const worker = new Worker(COMPILE, { eval: true, workerData: slice });
    worker.once('message', done);
    worker.once('error', fail);
  })));
  return new Set(failed.flat());
}

function nodeCheck(item) {  // for its line and message: V8's error through vm has no line
  return new Promise((done) => {
    const type = item.module ? 'module' : 'commonjs';
    let input;
    try { input = fs.openSync(item.file, 'r'); } catch (e) { return done({ message: e.message }); }
    const child = spawn(process.execPath, ['--input-type=' + type, '--check'],
                        { stdio: [input, 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => {
      fs.closeSync(input);
      if (code === 0) return done(null);
      const line = /^\[stdin\]:(\d+)/m.exec(err);
      const message = (/^(\w*Error: .*)$/m.exec(err) || [err.trim().split('\n').pop()])[0];
      done({ line: line ? Number(line[1]) : null, message });
    });
  });
}

function tsChecker() {
  const req = createRequire(path.join(job.site, 'package.json'));
  for (const name of ['esbuild', 'typescript']) {
    try { return { name, lib: req(name) }; } catch (e) { /* not installed here */ }
  }
  return null;
}

function tsCheck(checker, item) {
  const source = fs.readFileSync(item.file, 'utf8');
  if (checker.name === 'esbuild') {
    try { checker.lib.transformSync(source, { loader: item.file.endsWith('x') ? 'tsx' : 'ts' }); }
    catch (e) {
      const first = (e.errors || [])[0];
      return { line: first && first.location ? first.location.line : null,
               message: first ? first.text : e.message };
    }
    return null;
  }
  const out = checker.lib.transpileModule(source, { reportDiagnostics: true, fileName: item.file });
  const bad = (out.diagnostics || []).find((d) => d.code >= 1000 && d.code < 2000);
  if (!bad) return null;
  const line = bad.file ? bad.file.getLineAndCharacterOfPosition(bad.start).line + 1 : null;
  return { line, message: checker.lib.flattenDiagnosticMessageText(bad.messageText, ' ') };
}

async function syntax(items) {
  const results = {};
  const isTs = (i) => TS_EXT.includes(path.extname(i.file));
  const checker = items.some(isTs) ? tsChecker() : null;
  for (const item of items.filter(isTs)) {
    results[item.file] = checker ? tsCheck(checker, item) : 'not checked';
  }
  const js = items.filter((i) => !isTs(i)).map((i) => ({ ...i, module: isModule(i.file, i.esm) }));
  const failed = await compileAll(js);
  const queue = js.filter((i) => failed.has(i.file));
  for (const item of js) results[item.file] = null;
  const worker = async () => {
    for (let item = queue.shift(); item; item = queue.shift()) {
      results[item.file] = await nodeCheck(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, job.concurrency) }, worker));
  return { results, checker: checker ? checker.name : null };
}

function resolveRelative(from, spec) {
  const base = path.resolve(path.dirname(from), spec);
  const stems = [base, base.replace(/\.(m|c)?js$/, '')];
  for (const stem of stems) {
    for (const ext of REL_EXT) {
      const file = stem + ext;
      if (fs.existsSync(file) && fs.statSync(file).isFile()) return file;
    }
    for (const ext of REL_EXT.slice(1)) {
      const index = path.join(stem, 'index' + ext);
      if (fs.existsSync(index)) return index;
    }
  }
  return null;
}

const requires = new Map();
function requireFor(dir) {  // resolution depends only on the folder: one require per folder
  if (!requires.has(dir)) requires.set(dir, createRequire(path.join(dir, 'noop.js')));
  return requires.get(dir);
}

function resolvePackage(from, spec, style) {
  try {
    const found = style === 'require' ? requireFor(path.dirname(from)).resolve(spec)
      : fileURLToPath(import.meta.resolve(spec, pathToFileURL(from).href));
    return fs.existsSync(found) ? { file: found } : { error: 'resolves to missing ' + found };
  } catch (e) {
    return { error: e.code || e.message };
  }
}

function resolveOne(r) {
  const bare = spec => !spec.startsWith('.') && !spec.startsWith('/');
  if (r.spec.startsWith('node:') || builtinModules.includes(r.spec)) return { builtin: true };
  if (!bare(r.spec)) {
    const file = resolveRelative(r.file, r.spec);
    return file ? { file } : { error: 'no such file' };
  }
  return resolvePackage(r.file, r.spec, r.style);
}

const { results, checker } = await syntax(job.checks);
const resolved = job.resolve.map(resolveOne);
const packages = {};
for (const file of job.packages) {
  const pkg = nearestPackage(file);
  packages[file] = pkg && { path: pkg.path, error: pkg.error || null,
    deps: pkg.json ? Object.keys({ ...pkg.json.dependencies, ...pkg.json.devDependencies,
                                   ...pkg.json.optionalDependencies, ...pkg.json.peerDependencies })
                   : [] };
}
process.stdout.write(JSON.stringify({ node: process.version, checker, syntax: results,
                                      resolved, packages }));
"""
