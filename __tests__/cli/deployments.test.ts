/**
 * Two deployments with the same name in one account and region: the box commands act on one deployment's
 * boxes only (the trainium-spot:deployment tag), say which, and refuse, listing them, when they cannot tell.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DescribeInstancesCommand, DescribeKeyPairsCommand, EC2Client, Instance, StartInstancesCommand, StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { DescribeInstanceInformationCommand, GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { COMMAND_SPECS } from '../../src/cli/main';
import { SshReport, StatusReport, StopReport } from '../../src/cli/report';
import { box, DEPLOYMENT_A, DEPLOYMENT_B, expectOneLine, runCli, runJson } from './cli-test-helpers';

const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);

let home: string;
const env = () => ({ AWS_REGION: 'us-east-2', HOME: home });

/** Box A of deployment A, running; box B of deployment B, stopped; an untagged box, running. */
const LAUNCHED = new Date('2026-12-07T08:30:00Z');
const boxA = () => box({ InstanceId: 'i-0aaa', LaunchTime: LAUNCHED });
const boxB = () => box({ InstanceId: 'i-0bbb', state: 'stopped', deployment: DEPLOYMENT_B, LaunchTime: LAUNCHED });
const boxUntagged = () => box({ InstanceId: 'i-0ccc', deployment: null, LaunchTime: LAUNCHED });
const found = (...instances: Instance[]) => ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: instances }] });

beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-deployments-'));
  ec2.reset();
  ssm.reset();
  ec2.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [{ KeyName: 'trainium-spot-2025', KeyPairId: 'key-0123456789abcdef0' }] });
  ec2.on(StopInstancesCommand).callsFake((input: { InstanceIds: string[] }) => ({
    StoppingInstances: input.InstanceIds.map((id) => ({ InstanceId: id, PreviousState: { Name: 'running' }, CurrentState: { Name: 'stopping' } })),
  }));
  ssm.on(GetParameterCommand).resolves({ Parameter: { Value: 'KEY' } });
  ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
});
afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

describe('one deployment here: the box commands act on it and say which', () => {
  test('GIVEN the boxes of one deployment WHEN status THEN it lists them and names the deployment', async () => {
    // GIVEN
    found(boxA(), box({ InstanceId: 'i-0ddd', state: 'stopped' }));
    // WHEN
    const { code, json } = await runJson<StatusReport>(['status'], { env: env() });
    const run = await runCli(['status'], { env: env() });
    // THEN
    expect(code).toBe(0);
    expect(json.deployment).toEqual({ id: DEPLOYMENT_A, chosenBy: 'only-one' });
    expect(json.boxes.map((b) => [b.instanceId, b.deploymentId])).toEqual([['i-0aaa', DEPLOYMENT_A], ['i-0ddd', DEPLOYMENT_A]]);
    expect(run.stdout.split('\n')[0]).toBe(`trainium-spot in us-east-2, deployment ${DEPLOYMENT_A}: 2 boxes, 1 running`);
  });

  test('GIVEN only boxes deployed before deployment ids WHEN status THEN it acts on them and says they are untagged', async () => {
    // GIVEN
    found(boxUntagged());
    // WHEN
    const { json } = await runJson<StatusReport>(['status'], { env: env() });
    const run = await runCli(['status'], { env: env() });
    // THEN
    expect(json.deployment).toEqual({ id: null, chosenBy: 'only-one' });
    expect(json.boxes.map((b) => [b.instanceId, b.deploymentId])).toEqual([['i-0ccc', null]]);
    expect(run.stdout.split('\n')[0]).toBe(
      'trainium-spot in us-east-2, untagged boxes (deployed before deployment ids; the next apply tags them): 1 box, 1 running');
  });

  test('GIVEN no box at all WHEN status THEN it exits 1 as before, naming no deployment', async () => {
    found();
    const { code, json } = await runJson<StatusReport>(['status'], { env: env() });
    expect(code).toBe(1);
    expect(json.deployment).toBeNull();
  });
});

describe('two deployments of one name in one region', () => {
  const REFUSAL = 'trainium-spot: 2 deployments have boxes named trainium-spot in us-east-2; say which with --deployment ' +
    '(its id is the Terraform output deployment_id of the deployment):\n' +
    `  ${DEPLOYMENT_A}: i-0aaa running (launched 2026-12-07T08:30:00Z)\n` +
    `  ${DEPLOYMENT_B}: i-0bbb stopped (launched 2026-12-07T08:30:00Z)\n`;

  // `ssh` without --print takes the same path to the point where it would run ssh; here it must not get there.
  test.each([['status'], ['start'], ['stop', '--yes'], ['ssh', '--print'], ['ssh-config']])(
    'fails when %s cannot tell them apart: exit 2, one line per deployment, nothing started, stopped or fetched', async (...argv) => {
      // GIVEN
      found(boxA(), boxB());
      // WHEN
      const run = await runCli(argv, { env: env() });
      // THEN
      expect(run).toEqual({ code: 2, stdout: '', stderr: REFUSAL });
      expect(ec2).not.toHaveReceivedCommand(StartInstancesCommand);
      expect(ec2).not.toHaveReceivedCommand(StopInstancesCommand);
      expect(ec2).not.toHaveReceivedCommand(DescribeKeyPairsCommand);
      expect(ssm).not.toHaveReceivedCommand(GetParameterCommand);
      expect(fs.existsSync(path.join(home, '.ssh'))).toBe(false);
    });

  test('fails when boxes of a deployment and untagged boxes share the name: the untagged ones are a deployment of their own', async () => {
    found(boxA(), boxUntagged());
    const run = await runCli(['stop', '--yes'], { env: env() });
    expect(run.code).toBe(2);
    expect(run.stderr.split('\n').slice(1)).toEqual([
      `  ${DEPLOYMENT_A}: i-0aaa running (launched 2026-12-07T08:30:00Z)`,
      '  untagged: i-0ccc running (launched 2026-12-07T08:30:00Z)',
      '',
    ]);
    expect(ec2).not.toHaveReceivedCommand(StopInstancesCommand);
  });

  test('GIVEN --deployment WHEN stop --yes THEN only that deployment\'s running box stops, and the output names it', async () => {
    // GIVEN both deployments running
    found(boxA(), box({ InstanceId: 'i-0bbb', deployment: DEPLOYMENT_B }));
    // WHEN
    const { code, json } = await runJson<StopReport>(['stop', '--yes', '--deployment', DEPLOYMENT_B], { env: env() });
    // THEN
    expect(code).toBe(0);
    expect(ec2).toHaveReceivedCommandTimes(StopInstancesCommand, 1);
    expect(ec2).toHaveReceivedCommandWith(StopInstancesCommand, { InstanceIds: ['i-0bbb'] });
    expect(json.deployment).toEqual({ id: DEPLOYMENT_B, chosenBy: '--deployment' });
    expect(json.stopped).toEqual([{ instanceId: 'i-0bbb', previousState: 'running', currentState: 'stopping' }]);
  });

  test('GIVEN --deployment untagged WHEN status THEN it lists the boxes without a deployment tag only', async () => {
    found(boxA(), boxUntagged());
    const { code, json } = await runJson<StatusReport>(['status', '--deployment', 'untagged'], { env: env() });
    expect(code).toBe(0);
    expect(json.deployment).toEqual({ id: null, chosenBy: '--deployment' });
    expect(json.boxes.map((b) => b.instanceId)).toEqual(['i-0ccc']);
  });

  test('GIVEN --instance-id WHEN ssh --print THEN the box it names decides the deployment, and its key is fetched', async () => {
    // GIVEN both deployments running
    found(boxA(), box({ InstanceId: 'i-0bbb', deployment: DEPLOYMENT_B, KeyName: 'trainium-spot-b' }));
    // WHEN
    const { code, json } = await runJson<SshReport>(['ssh', '--print', '--instance-id', 'i-0bbb'], { env: env() });
    // THEN
    expect(code).toBe(0);
    expect(json).toMatchObject({ instanceId: 'i-0bbb', deployment: { id: DEPLOYMENT_B, chosenBy: '--instance-id' } });
    expect(ec2).toHaveReceivedCommandWith(DescribeKeyPairsCommand, { KeyNames: ['trainium-spot-b'] });
  });

  test('GIVEN --deployment WHEN ssh --print THEN it says on stderr which box of which deployment, and prints only the command', async () => {
    found(boxA(), box({ InstanceId: 'i-0bbb', deployment: DEPLOYMENT_B }));
    const run = await runCli(['ssh', '--print', '--deployment', DEPLOYMENT_B], { env: env() });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(`trainium-spot: i-0bbb of trainium-spot in us-east-2, deployment ${DEPLOYMENT_B}\n`);
    expect(run.stdout).toMatch(/^ssh .* ubuntu@i-0bbb\n$/);
  });

  test('fails when --deployment names a deployment without a box here: it lists the ones that have', async () => {
    found(boxA(), boxB());
    const other = '00000000-1111-4222-8333-444444444444';
    const run = await runCli(['start', '--deployment', other], { env: env() });
    expect(run).toEqual({
      code: 2, stdout: '',
      stderr: `trainium-spot: --deployment ${other} has no box named trainium-spot in us-east-2; the deployments that have:\n` +
        `  ${DEPLOYMENT_A}: i-0aaa running (launched 2026-12-07T08:30:00Z)\n` +
        `  ${DEPLOYMENT_B}: i-0bbb stopped (launched 2026-12-07T08:30:00Z)\n`,
    });
    expect(ec2).not.toHaveReceivedCommand(StartInstancesCommand);
  });

  test('fails when --deployment is not a deployment id: one line, AWS never asked', async () => {
    const run = await runCli(['stop', '--yes', '--deployment', '3f2a'], { env: env() });
    expect(run.code).toBe(2);
    expectOneLine(run.stderr);
    expect(run.stderr).toBe('trainium-spot: stop: --deployment "3f2a" is not valid; expected a deployment id such as ' +
      `${DEPLOYMENT_A} (the Terraform output deployment_id), or "untagged" (see 'trainium-spot help stop')\n`);
    expect(ec2).not.toHaveReceivedCommand(DescribeInstancesCommand);
  });

  test('fails when ssh-config --remove is given --deployment: it takes out the whole file, of whichever deployment', async () => {
    const run = await runCli(['ssh-config', '--remove', '--deployment', DEPLOYMENT_A], { env: env() });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("trainium-spot: ssh-config: --deployment cannot be used with --remove, which takes out the whole file (see 'trainium-spot help ssh-config')\n");
    expect(ec2).not.toHaveReceivedCommand(DescribeInstancesCommand);
  });

  test('every box command takes --deployment, and its help says what it is', () => {
    const boxCommands = COMMAND_SPECS.filter((c) => ['status', 'start', 'stop', 'ssh', 'ssh-config'].includes(c.name));
    expect(boxCommands).toHaveLength(5);
    for (const command of boxCommands) {
      expect({ command: command.name, flag: command.flags.deployment?.placeholder }).toEqual({ command: command.name, flag: 'ID' });
      expect(command.usage[0]).toContain('[--deployment ID]');
    }
  });
});
