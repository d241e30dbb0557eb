/**
 * The CLI and the stack read one configuration: for every source, `quota` checks the region, type,
 * market and count the synthesized stack deploys, and flags override it for one run only.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetServiceQuotaCommand, ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { mockClient } from 'aws-sdk-client-mock';
import { Testing } from 'cdktf';
import { loadConfig, readContext } from '../../src/config';
import { QuotaReport } from '../../src/cli/report';
import { STACK_NAME, TrainiumSpotStack } from '../../src/stack';
import { TerraformJson } from '../support/synth';
import { runCli, runJson } from './cli-test-helpers';

const ec2 = mockClient(EC2Client);
const quotas = mockClient(ServiceQuotasClient);

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-same-'));
  ec2.reset();
  quotas.reset();
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  quotas.on(GetServiceQuotaCommand).resolves({ Quota: { Value: 1024 } });
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const CHOSEN = { region: 'us-west-2', instanceType: 'trn1.32xlarge', market: 'on-demand', instanceCount: 2 };

/** What the stack deploys with these sources, read back from the synthesized JSON. */
function deployed(env: Record<string, string>): { region: string; instanceType: string; market: string; instanceCount: number } {
  const config = loadConfig({ context: readContext(env, dir), env });
  const json = JSON.parse(Testing.synth(new TrainiumSpotStack(Testing.app(), STACK_NAME, config))) as TerraformJson;
  const instances = json.resource.aws_instance ?? json.resource.aws_spot_instance_request;
  const [instance] = Object.values(instances);
  return {
    region: json.provider.aws[0].region,
    instanceType: instance.instance_type,
    market: json.resource.aws_instance ? 'on-demand' : 'spot',
    instanceCount: instance.count,
  };
}

async function checked(env: Record<string, string>, flags: string[] = []) {
  const { json, stderr } = await runJson<QuotaReport>(['quota', ...flags], { env, cwd: dir });
  const [client] = quotas.calls().map((c) => c.thisValue as ServiceQuotasClient);
  return { region: json.region, instanceType: json.instanceType, market: json.market, instanceCount: json.instancesWanted,
    clientRegion: await client.config.region(), stderr };
}

describe('the CLI checks what the stack deploys', () => {
  const sources: [string, () => Record<string, string>][] = [
    ['cdktf.json context', () => {
      fs.writeFileSync(path.join(dir, 'cdktf.json'), JSON.stringify({ app: 'x', context: { trainiumSpot: CHOSEN } }));
      return {};
    }],
    ['the config file', () => {
      const file = path.join(dir, 'config.json');
      fs.writeFileSync(file, JSON.stringify({ $schema: './config.schema.json', ...CHOSEN }));
      return { TRAINIUM_SPOT_CONFIG: file };
    }],
    ['env vars over a file that sets only the count', () => {
      const file = path.join(dir, 'config.json');
      fs.writeFileSync(file, JSON.stringify({ instanceCount: 2 }));
      return { TRAINIUM_SPOT_CONFIG: file, TRAINIUM_SPOT_REGION: 'us-west-2', TRAINIUM_SPOT_INSTANCE_TYPE: 'trn1.32xlarge', TRAINIUM_SPOT_MARKET: 'on-demand' };
    }],
  ];

  test.each(sources)('GIVEN region, type, market and count in %s WHEN quota runs THEN it checks exactly what the stack deploys', async (_source, given) => {
    // GIVEN
    const env = { ...given(), AWS_REGION: 'us-west-2' };
    // WHEN
    const stack = deployed(env);
    const cli = await checked(env);
    // THEN
    expect(stack).toEqual(CHOSEN);
    expect(cli).toEqual({ ...CHOSEN, clientRegion: 'us-west-2', stderr: '' });
  });

  test('GIVEN the defaults and AWS_REGION=us-west-2 WHEN quota runs THEN both use us-east-2 and the CLI says why', async () => {
    const env = { AWS_REGION: 'us-west-2' };

    const stack = deployed(env);
    const cli = await checked(env);

    expect(stack.region).toBe('us-east-2');
    expect(cli).toMatchObject({ region: 'us-east-2', clientRegion: 'us-east-2', instanceType: 'trn1.2xlarge', market: 'spot', instanceCount: 1 });
    expect(cli.stderr).toBe('trainium-spot: warning: AWS_REGION is us-west-2, but the configured region is us-east-2 (from defaults); ' +
      'using us-east-2: set TRAINIUM_SPOT_REGION or "region" in the config to change it\n');
  });

  test('flags override the configuration for one run, without a warning', async () => {
    const env = { ...sources[1][1](), AWS_REGION: 'us-east-1' };

    const cli = await checked(env, ['--region', 'us-east-1', '--instance-type', 'trn1.2xlarge', '--market', 'spot', '--count', '3']);

    expect(cli).toEqual({ region: 'us-east-1', instanceType: 'trn1.2xlarge', market: 'spot', instanceCount: 3, clientRegion: 'us-east-1', stderr: '' });
  });

  test('fails when the configuration is wrong: the CLI prints the same lines as synth and exits 2', async () => {
    fs.writeFileSync(path.join(dir, 'cdktf.json'), JSON.stringify({ context: { trainiumspot: {} } }));

    const run = await runCli(['quota'], { env: {}, cwd: dir });

    expect(run.code).toBe(2);
    expect(run.stderr).toBe('trainium-spot: cdktf.json context: key "trainiumspot" is not read (keys are case-sensitive); put the config under "trainiumSpot"\n');
    expect(quotas.calls()).toHaveLength(0);
  });
});
