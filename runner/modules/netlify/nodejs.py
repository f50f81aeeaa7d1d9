"""The Node.js side of validation, run on the host: syntax checks (each file compiled by V8
in this one process, as `node --check` compiles it but without a process per file; a file that
fails is checked again with `node --check`, a bounded number at once, for its line and message;
TypeScript through the site's esbuild or typescript when present), module
resolution by Node itself (`require.resolve` for require, `import.meta.resolve` for import, so
`exports` maps, conditions and scoped packages resolve exactly as Node resolves them), and the
nearest package.json of each function. Reads a job (JSON) from the file named by argv[1]."""

from __future__ import annotations

SCRIPT = r"""
import { spawn } from 'node:child_process';
import fs from 'node:fs';
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

const CJS_ARGS = ['exports', 'require', 'module', '__filename', '__dirname'];

function compiles(item, module) {
  try {
    const source = fs.readFileSync(item.file, 'utf8');
    if (module) new vm.SourceTextModule(source, { identifier: item.file });
    else vm.compileFunction(source, CJS_ARGS, { filename: item.file });
    return true;
  } catch (e) {
    return false;
  }
}

function nodeCheck(item) {
  const module = isModule(item.file, item.esm);
  if (compiles(item, module)) return Promise.resolve(null);
  return new Promise((done) => {
    const type = module ? 'module' : 'commonjs';
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
  const checker = items.some((i) => TS_EXT.includes(path.extname(i.file))) ? tsChecker() : null;
  const queue = items.filter((i) => !TS_EXT.includes(path.extname(i.file)));
  for (const item of items.filter((i) => TS_EXT.includes(path.extname(i.file)))) {
    results[item.file] = checker ? tsCheck(checker, item) : 'not checked';
  }
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
