import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetServiceQuotaCommand, ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { COMMAND_SPECS, COMMANDS } from '../../src/cli/main';
import { runCli } from './cli-test-helpers';

const ec2 = mockClient(EC2Client);
const COMMAND_NAMES = COMMANDS.map((c) => c.name).join(', ');
const quotas = mockClient(ServiceQuotasClient);

beforeEach(() => {
  ec2.reset();
  quotas.reset();
});

describe('help', () => {
  test.each([['--help'], ['-h'], ['help']])('GIVEN %s WHEN run THEN the command list and examples are printed and it exits 0', async (flag) => {
    const run = await runCli([flag]);

    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('Usage:\n  trainium-spot <command> [flags]');
    for (const command of COMMANDS) expect(run.stdout).toContain(`  ${command.name}`);
    expect(run.stdout).toContain(`Examples:\n  trainium-spot ${COMMANDS[0].name}`);
    expect(run.stdout).toContain('Exit codes: 0 success, 1 not done (quota: does not fit; status: no box;');
  });

  test.each(COMMAND_SPECS.map((c) => [c.name]))('GIVEN help %s WHEN run THEN the same text as "%s --help" is printed', async (name) => {
    const viaHelp = await runCli(['help', ...name.split(' ')]);
    const viaFlag = await runCli([...name.split(' '), '--help']);

    expect(viaHelp.code).toBe(0);
    expect(viaFlag.code).toBe(0);
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
    expect(viaHelp.stdout).toContain(`Usage:\n  trainium-spot ${name}`);
    expect(viaHelp.stdout).toContain('--output table|json');
    expect(viaHelp.stdout).toContain(`Examples:\n  trainium-spot ${name}`);
  });

  test('GIVEN a command spec WHEN its help is printed THEN every flag it accepts is documented', async () => {
    for (const command of COMMAND_SPECS) {
      const run = await runCli(['help', ...command.name.split(' ')]);
      for (const flag of Object.keys(command.flags)) expect(run.stdout).toContain(`--${flag}`);
    }
  });

  test('fails when help is asked for an unknown command', async () => {
    const run = await runCli(['help', 'deploy']);

    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`trainium-spot: unknown command "deploy"; commands: ${COMMAND_NAMES}, help\n`);
  });
});

describe('progress indicator', () => {
  beforeEach(() => {
    quotas.on(GetServiceQuotaCommand).resolves({ Quota: { Value: 16 } });
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  });

  test('GIVEN stderr is a terminal WHEN quota waits on AWS THEN a progress line is drawn on stderr and cleared', async () => {
    const run = await runCli(['quota'], { isTTY: true, env: { AWS_REGION: 'us-east-2' } });

    expect(run.code).toBe(0);
    expect(run.stderr).toContain('waiting on AWS: servicequotas:GetServiceQuota in us-east-2');
    expect(run.stderr.endsWith('\r\x1b[K')).toBe(true);
    expect(run.stdout).not.toContain('waiting on AWS');
  });

  test('GIVEN stderr is a terminal WHEN one call fails while another waits THEN the line is erased before the error', async () => {
    quotas.on(GetServiceQuotaCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    ec2.on(DescribeInstancesCommand).callsFake(() => new Promise(() => undefined));

    const run = await runCli(['quota'], { isTTY: true });

    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/waiting on AWS: [^\n]*\r\x1b\[Ktrainium-spot: access denied: [^\n]*servicequotas:GetServiceQuota[^\n]*\n$/);
  });

  test('GIVEN stderr is a terminal WHEN the output is json THEN no progress is drawn', async () => {
    const run = await runCli(['quota', '--output', 'json'], { isTTY: true });

    expect(run.stderr).toBe('');
  });

  test('GIVEN stderr is not a terminal WHEN quota waits on AWS THEN no progress is drawn', async () => {
    const run = await runCli(['quota'], { isTTY: false });

    expect(run.stderr).toBe('');
  });
});
