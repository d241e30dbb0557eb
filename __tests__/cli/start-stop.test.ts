import { DescribeInstancesCommand, EC2Client, StartInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { StartReport, StopReport } from '../../src/cli/report';
import { awsError, box, DEPLOYMENT_A, expectOneLine, runCli, runJson } from './cli-test-helpers';

const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);

const reservations = (...instances: ReturnType<typeof box>[]) => ({ Reservations: [{ Instances: instances }] });

beforeEach(() => {
  ec2.reset();
  ssm.reset();
  ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: 'i-0aaa', PingStatus: 'Online' }] });
});

describe('start', () => {
  test('GIVEN a stopped box WHEN start THEN it starts it, follows stopped -> pending -> running, waits for SSM and exits 0', async () => {
    // GIVEN
    ec2.on(DescribeInstancesCommand)
      .resolvesOnce(reservations(box({ InstanceId: 'i-0aaa', state: 'stopped' })))
      .resolvesOnce(reservations(box({ InstanceId: 'i-0aaa', state: 'pending' })))
      .resolves(reservations(box({ InstanceId: 'i-0aaa', state: 'running' })));
    ssm.on(DescribeInstanceInformationCommand)
      .resolvesOnce({ InstanceInformationList: [] })
      .resolves({ InstanceInformationList: [{ InstanceId: 'i-0aaa', PingStatus: 'Online' }] });
    ec2.on(StartInstancesCommand).resolves({});
    // WHEN
    const { code, json, stderr } = await runJson<StartReport>(['start', '--interval', '0']);
    // THEN
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(ec2).toHaveReceivedCommandWith(StartInstancesCommand, { InstanceIds: ['i-0aaa'] });
    expect(json.outcome).toBe('ready');
    expect(json.boxes[0]).toMatchObject({ instanceId: 'i-0aaa', state: 'running', statesSeen: ['stopped', 'pending', 'running'], reachable: true });
    expect(json.connect).toEqual({ ssh: 'trainium-spot ssh', sessionManager: 'aws ssm start-session --target i-0aaa --region us-east-2' });
    expect(ssm).toHaveReceivedCommandTimes(DescribeInstanceInformationCommand, 2);
  });

  test('GIVEN a spot box EC2 stopped for capacity WHEN start THEN it does not call StartInstances and says capacity is not back (exit 1)', async () => {
    ec2.on(DescribeInstancesCommand).resolves(reservations(box({
      InstanceId: 'i-0aaa', state: 'stopped', StateReason: { Code: 'Server.SpotInstanceShutdown' },
    })));

    const run = await runCli(['start', '--interval', '0']);

    expect(run.code).toBe(1);
    expect(ec2).not.toHaveReceivedCommand(StartInstancesCommand);
    expect(run.stdout).toBe(`trainium-spot in us-east-2, deployment ${DEPLOYMENT_A}:\n` +
      'i-0aaa: spot capacity for trn1.2xlarge in us-east-2c is not back yet; its persistent spot request ' +
      'starts it when capacity returns (try again later, or see trainium-spot spot-price)\n');
  });

  test('GIVEN EC2 refuses the start for capacity WHEN start THEN outcome capacity-not-back, exit 1, no error line', async () => {
    ec2.on(DescribeInstancesCommand).resolves(reservations(box({ InstanceId: 'i-0aaa', state: 'stopped' })));
    ec2.on(StartInstancesCommand).rejects(awsError('InsufficientInstanceCapacity', 'There is no Spot capacity available that matches your request.'));

    const { code, json, stderr } = await runJson<StartReport>(['start', '--interval', '0']);

    expect(code).toBe(1);
    expect(stderr).toBe('');
    expect(json.outcome).toBe('capacity-not-back');
    expect(json.boxes[0]).toMatchObject({ state: 'stopped', reachable: false });
  });

  test('GIVEN a box that never gets online in SSM WHEN start --timeout 0 THEN timed-out, exit 1', async () => {
    ec2.on(DescribeInstancesCommand).resolves(reservations(box({ InstanceId: 'i-0aaa' })));
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: 'i-0aaa', PingStatus: 'ConnectionLost' }] });

    const run = await runCli(['start', '--timeout', '0', '--interval', '0']);

    expect(run.code).toBe(1);
    expect(run.stdout).toContain('Not running and reachable after 0 s');
    expect(ec2).not.toHaveReceivedCommand(StartInstancesCommand);
  });

  test('fails when there is no box: exit 2 and one line', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    const run = await runCli(['start']);
    expect(run.code).toBe(2);
    expectOneLine(run.stderr);
    expect(run.stderr).toBe('trainium-spot: no box named trainium-spot in us-east-2 (tags Name=trainium-spot, ManagedBy=trainium-spot); ' +
      'deploy it first (npx cdktf deploy), or give --region where it runs\n');
  });
});

describe('stop', () => {
  beforeEach(() => {
    ec2.on(DescribeInstancesCommand).resolves(reservations(box({ InstanceId: 'i-0aaa' }), box({ InstanceId: 'i-0bbb', state: 'stopped' })));
    ec2.on(StopInstancesCommand).resolves({
      StoppingInstances: [{ InstanceId: 'i-0aaa', PreviousState: { Name: 'running' }, CurrentState: { Name: 'stopping' } }],
    });
  });

  test('GIVEN --yes WHEN stop THEN it stops the running box only, without asking', async () => {
    const { code, json } = await runJson<StopReport>(['stop', '--yes']);

    expect(code).toBe(0);
    expect(ec2).toHaveReceivedCommandWith(StopInstancesCommand, { InstanceIds: ['i-0aaa'] });
    expect(json.stopped).toEqual([{ instanceId: 'i-0aaa', previousState: 'running', currentState: 'stopping' }]);
    expect(json.alreadyStopped).toEqual(['i-0bbb']);
  });

  test('GIVEN --yes WHEN stop THEN it still lists what it stopped: the ids, the name and the deployment', async () => {
    const run = await runCli(['stop', '--yes']);

    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`trainium-spot in us-east-2, deployment ${DEPLOYMENT_A}:\n` +
      'i-0aaa: running -> stopping\n' +
      'Already stopped or stopping: i-0bbb\n' +
      'The disks stay (storage is still billed); start again with: trainium-spot start\n');
  });

  test('GIVEN a terminal WHEN the person answers yes THEN it stops; the question names the box', async () => {
    const questions: string[] = [];
    const run = await runCli(['stop'], { confirm: async (q) => { questions.push(q); return true; } });

    expect(run.code).toBe(0);
    expect(questions).toEqual([`Stop 1 box of trainium-spot in us-east-2, deployment ${DEPLOYMENT_A}: i-0aaa (trn1.2xlarge spot)?`]);
    expect(run.stdout).toContain('i-0aaa: running -> stopping\n');
    expect(ec2).toHaveReceivedCommand(StopInstancesCommand);
  });

  test('GIVEN a terminal WHEN the person answers no THEN nothing stops and it exits 1', async () => {
    const run = await runCli(['stop'], { confirm: async () => false });
    expect(run.code).toBe(1);
    expect(ec2).not.toHaveReceivedCommand(StopInstancesCommand);
  });

  test('fails without a terminal and without --yes: one line, nothing stopped', async () => {
    const run = await runCli(['stop']);

    expect(run.code).toBe(2);
    expectOneLine(run.stderr);
    expect(run.stderr).toBe(`trainium-spot: stop: not stopping 1 box of trainium-spot in us-east-2, deployment ${DEPLOYMENT_A}: ` +
      "i-0aaa (trn1.2xlarge spot), without confirmation: there is no terminal to ask on; pass --yes (see 'trainium-spot help stop')\n");
    expect(ec2).not.toHaveReceivedCommand(StopInstancesCommand);
  });
});
