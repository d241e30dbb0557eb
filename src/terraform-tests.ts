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

/** Where the test files and mocks name the AMI: the image a preset expects, so the plan's image guards pass. */
const AMI_NAME_TOKEN = 'TRAINIUM_SPOT_AMI_NAME';

/** Where the test files name the spot boxes, whose address depends on the launch path. */
const SPOT_BOXES_TOKEN = 'TRAINIUM_SPOT_SPOT_BOXES';
const SPOT_BOXES: Readonly<Record<Config['spotLaunch'], string>> = {
  'spot-request': 'aws_spot_instance_request.spot_request_701C7715',
  'run-instances': 'aws_instance.spot_instance_33C35F84',
};

/** The name the mocked AMI carries: a preset's own prefix, or any name for an image the config names itself. */
function mockAmiName(config: Config): string {
  const image = config.resolvedImage;
  return image.kind === 'preset' ? `${image.preset.amiNamePrefix} 20260707` : 'an image named by the config';
}

/** Writes the market's test file and the shared mocks to `<stackDir>/tests/`, replacing what was there. */
export function writeTerraformTests(stackDir: string, stackName: string, config: Config): void {
  const source = path.join(packageRoot(), 'tftest');
  const target = path.join(stackDir, 'tests');
  const amiName = mockAmiName(config);
  const copy = (from: string, to: string) => fs.writeFileSync(to, fs.readFileSync(from, 'utf8')
    .replaceAll(SPOT_BOXES_TOKEN, SPOT_BOXES[config.spotLaunch]).replaceAll(AMI_NAME_TOKEN, amiName));
  fs.rmSync(target, { recursive: true, force: true });
  fs.mkdirSync(path.join(target, 'mocks'), { recursive: true });
  copy(path.join(source, TEST_FILES[config.market]), path.join(target, `${stackName}.tftest.hcl`));
  for (const mock of fs.readdirSync(path.join(source, 'mocks'))) copy(path.join(source, 'mocks', mock), path.join(target, 'mocks', mock));
}
