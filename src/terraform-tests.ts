/**
 * `terraform test` files for the synthesized stack (tftest/ in the package): mock providers and
 * overridden data sources, so a user's CI can test the plan's guards with no AWS account. Resource
 * addresses differ by market, so each market has its own file; the app writes the one that
 * matches the config to `<stack dir>/tests/`, where `terraform test` looks by default.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config } from './config';
import { packageRoot } from './userdata/files';

const TEST_FILES: Readonly<Record<Config['market'], string>> = {
  spot: 'spot.tftest.hcl',
  'on-demand': 'on-demand.tftest.hcl',
  'capacity-reservation': 'on-demand.tftest.hcl',
  'capacity-block': 'capacity-block.tftest.hcl',
  auto: 'auto.tftest.hcl',
};

/** Writes the market's test file and the shared mocks to `<stackDir>/tests/`, replacing what was there. */
export function writeTerraformTests(stackDir: string, stackName: string, market: Config['market']): void {
  const source = path.join(packageRoot(), 'tftest');
  const target = path.join(stackDir, 'tests');
  fs.rmSync(target, { recursive: true, force: true });
  fs.mkdirSync(path.join(target, 'mocks'), { recursive: true });
  fs.copyFileSync(path.join(source, TEST_FILES[market]), path.join(target, `${stackName}.tftest.hcl`));
  for (const mock of fs.readdirSync(path.join(source, 'mocks'))) {
    fs.copyFileSync(path.join(source, 'mocks', mock), path.join(target, 'mocks', mock));
  }
}
