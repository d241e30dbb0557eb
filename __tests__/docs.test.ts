/** Generated docs stay in step with the schema; the README opens with commands that work. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { README_FILE, SCHEMA_FILE, configSchemaJson, readmeWithReference } from '../scripts/config-docs';

const readme = fs.readFileSync(README_FILE, 'utf8');

describe('generated from the config schema', () => {
  test('config.schema.json is current (npm run docs)', () => {
    expect(fs.readFileSync(SCHEMA_FILE, 'utf8')).toBe(configSchemaJson());
  });

  test("the README's configuration reference is current (npm run docs)", () => {
    expect(readme).toBe(readmeWithReference(readme));
  });

  test('the reference lists nested keys with their defaults', () => {
    expect(readme).toContain('| `idle.idleMinutes` | `3` |');
    expect(readme).toContain('| `idleAlarm.lowCpuMinutes` | `25` |');
    expect(readme).toContain('| `instanceType` | `"trn1.2xlarge"` |');
  });
});

describe('README', () => {
  test('opens with one command that installs and synthesizes and one that installs and runs every test', () => {
    const firstBlock = readme.slice(readme.indexOf('```bash'), readme.indexOf('```', readme.indexOf('```bash') + 7));
    expect(firstBlock).toContain('npm ci && npm run synth');
    expect(firstBlock).toContain('npm ci && npm test');
    expect(readme.indexOf('```bash')).toBeLessThan(800);
  });

  test('CI runs the README test command', () => {
    const ci = fs.readFileSync(path.join(__dirname, '..', '.ci', 'run'), 'utf8');
    expect(ci).toMatch(/^npm ci\b.*$/m);
    expect(ci).toMatch(/^npm test$/m);
  });

  test('names the right spot quota and calls the Dedicated Hosts one wrong', () => {
    expect(readme).toContain('L-6B0D517C');
    expect(readme).toMatch(/"Running Dedicated trn Hosts" is the quota for Dedicated \*\*Hosts\*\*/);
  });
});
