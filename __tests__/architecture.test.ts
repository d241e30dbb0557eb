/** The house rules that keep the code base small and one-way, checked over the source text. */
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(relative);
    return entry.name.endsWith('.ts') ? [relative] : [];
  });
}

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');
const importsOf = (file: string) => [...read(file).matchAll(/from '([^']+)'/g)].map((m) => m[1]);
const everyTsFile = ['main.ts', ...sourceFiles('src'), ...sourceFiles('__tests__')];

describe('architecture', () => {
  test('provider classes are imported by deep path only, never from a package root', () => {
    const rootImports = everyTsFile.filter((file) =>
      importsOf(file).some((from) => from === '@cdktf/provider-aws' || from === '@cdktf/provider-tls'));
    expect(rootImports).toEqual([]);
  });

  test('constructs never read the environment', () => {
    const readers = sourceFiles('src/constructs').filter((file) => read(file).includes('process.env'));
    expect(readers).toEqual([]);
  });

  test('in src only the CLI reads process.env (the app gets it handed in by main.ts)', () => {
    const readers = sourceFiles('src').filter((file) => read(file).includes('process.env'));
    expect(readers.every((file) => file.startsWith(path.join('src', 'cli')))).toBe(true);
  });

  test('the catalog imports nothing of ours', () => {
    expect(importsOf('src/catalog.ts').filter((from) => from.startsWith('.'))).toEqual([]);
  });

  test('the market table imports nothing of ours but the catalog: it is facts, like the catalog', () => {
    expect(importsOf('src/markets.ts').filter((from) => from.startsWith('.'))).toEqual(['./catalog']);
  });

  test('the CLI shares facts with the stack only through the catalog and the market table, and its configuration through the loader', () => {
    const cliImports = sourceFiles('src/cli').flatMap((file) =>
      importsOf(file).filter((from) => from.startsWith('..')).map((from) => path.normalize(path.join(path.dirname(file), from))));
    const outside = cliImports.filter((target) => !target.startsWith(path.join('src', 'cli')));
    expect([...new Set(outside)].sort()).toEqual([path.join('src', 'catalog'), path.join('src', 'config'), path.join('src', 'markets')]);
  });

  test('constructs never import the stack, the config loader or the CLI', () => {
    const forbidden = sourceFiles('src/constructs').flatMap((file) =>
      importsOf(file).filter((from) => /\.\.\/(stack|cli)\b/.test(from)).map((from) => `${file}: ${from}`));
    expect(forbidden).toEqual([]);
  });
});
