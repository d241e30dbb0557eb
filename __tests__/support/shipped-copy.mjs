#!/usr/bin/env node
// The copies of src/userdata's programs that machines get (shippedCopy in src/userdata/files.ts: without comment
// lines, a line naming the source), made by that code itself, for the bats tests.
//
//   node shipped-copy.mjs SOURCE                          print the copy of src/userdata/SOURCE
//   node shipped-copy.mjs --check SOURCE INSTALLED ...    exit 1 unless each INSTALLED file is the copy of its
//                                                         SOURCE, byte for byte, and its code lines are SOURCE's
import { transformSync } from 'esbuild';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const source = (file) => readFileSync(path.join(ROOT, 'src/userdata', file), 'utf8');

function loadFilesModule() {
  const { code } = transformSync(readFileSync(path.join(ROOT, 'src/userdata/files.ts'), 'utf8'), { loader: 'ts', format: 'cjs', platform: 'node' });
  const dir = mkdtempSync(path.join(tmpdir(), 'shipped-copy-'));
  try {
    writeFileSync(path.join(dir, 'files.cjs'), code);
    return createRequire(import.meta.url)(path.join(dir, 'files.cjs'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const { shippedCopy } = loadFilesModule();
const codeLines = (text) => text.split('\n').filter((line) => !/^\s*#/.test(line)).join('\n');

const args = process.argv.slice(2);
if (args[0] === '--check' && args.length % 2 === 1 && args.length > 1) {
  let differs = 0;
  for (let i = 1; i < args.length; i += 2) {
    const [file, installed] = [args[i], args[i + 1]];
    const text = readFileSync(installed, 'utf8');
    if (text !== shippedCopy(file, source(file))) {
      process.stderr.write(`${installed}: not the shipped copy of src/userdata/${file}\n`);
      differs++;
    } else if (codeLines(text) !== codeLines(source(file))) {
      process.stderr.write(`${installed}: its code lines are not those of src/userdata/${file}\n`);
      differs++;
    }
  }
  process.exit(differs === 0 ? 0 : 1);
} else if (args.length === 1 && !args[0].startsWith('--')) {
  process.stdout.write(shippedCopy(args[0], source(args[0])));
} else {
  process.stderr.write('usage: shipped-copy.mjs SOURCE | --check SOURCE INSTALLED [SOURCE INSTALLED ...]\n');
  process.exit(2);
}
