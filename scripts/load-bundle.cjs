// Runs a bundle of dist/ as require() would, but compiled from V8's code cache when one matches.
// A bundle holds every dependency in one file; compiling it is most of what a start costs, and the
// cache holds the functions the last start compiled, so the next start reads them instead.
//
// The cache is dist/<bundle>.v8cache: one header line naming the bundle's size and mtime, then V8's
// data. V8 itself checks only the source's length, so a rebuilt bundle is told apart by the header;
// a cache V8 rejects anyway (another node version, other V8 flags) is written anew.
'use strict';
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

/** Loads `file` (an absolute path) and returns its exports. */
function loadBundle(file) {
  const source = fs.readFileSync(file, 'utf8');
  const stat = fs.statSync(file);
  const cacheFile = `${file}.v8cache`;
  const header = `${stat.size}:${stat.mtimeMs}\n`;
  const cachedData = readCache(cacheFile, header);

  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  const bundle = new Module(file, module);
  bundle.filename = file;
  bundle.paths = Module._nodeModulePaths(path.dirname(file));
  require.cache[file] = bundle;
  const wrapper = script.runInThisContext();
  if (cachedData === undefined || script.cachedDataRejected) {
    // After the run, so that the cache holds every function this start compiled, not only the top level.
    process.once('exit', () => writeCache(cacheFile, header, script));
  }
  wrapper.call(bundle.exports, bundle.exports, Module.createRequire(file), bundle, file, path.dirname(file));
  bundle.loaded = true;
  return bundle.exports;
}

function readCache(cacheFile, header) {
  let data;
  try {
    data = fs.readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  return data.subarray(0, header.length).toString('latin1') === header ? data.subarray(header.length) : undefined;
}

/** Best effort: a read-only checkout runs without the cache. Renamed into place, so a reader never sees half. */
function writeCache(cacheFile, header, script) {
  const temporary = `${cacheFile}.${process.pid}`;
  try {
    fs.writeFileSync(temporary, Buffer.concat([Buffer.from(header, 'latin1'), script.createCachedData()]));
    fs.renameSync(temporary, cacheFile);
  } catch {
    fs.rmSync(temporary, { force: true });
  }
}

module.exports = { loadBundle };
