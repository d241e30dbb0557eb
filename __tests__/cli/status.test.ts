import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeInstancesCommand, DescribeSpotPriceHistoryCommand, DescribeVolumesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeInstanceAssociationsStatusCommand, InstanceAssociationStatusInfo, SSMClient } from '@aws-sdk/client-ssm';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { IDLE_METRIC, INSTANCE_TYPES, partitionOf, verdictNamespace } from '../../src/catalog';
import { StatusReport } from '../../src/cli/report';
import { awsError, box, expectOneLine, runCli, runJson } from './cli-test-helpers';
import { tableCell, tableRows } from './table';

/** The account that owns the boxes: DescribeInstances names it on each reservation. */
const ACCOUNT = '123456789012';

const ec2 = mockClient(EC2Client);
const cloudWatch = mockClient(CloudWatchClient);
const ssm = mockClient(SSMClient);

/** The stack's association on a box, as DescribeInstanceAssociationsStatus lists it. */
const agentEntry = (overrides: Partial<InstanceAssociationStatusInfo> = {}): InstanceAssociationStatusInfo => ({
  AssociationId: '8dfe3659-4309-493a-8755-0123456789ab',
  AssociationName: 'trainium-spot-agent',
  Name: 'trainium-spot-agent',
  AssociationVersion: '1',
  DocumentVersion: '3',
  InstanceId: 'i-0aaa',
  ExecutionDate: new Date('2026-12-01T15:02:00Z'),
  Status: 'Success',
  DetailedStatus: 'Success',
  ExecutionSummary: '1 out of 1 plugin processed, 1 success, 0 failed, 0 timedout, 0 skipped. ',
  ...overrides,
});

/** An AWS error with the HTTP status AWS answers a server-side failure with. */
const serverError = (name: string) => Object.assign(awsError(name, 'We encountered an internal error. Please try again.'), {
  $metadata: { httpStatusCode: 500, attempts: 6 },
});

beforeEach(() => {
  ec2.reset();
  cloudWatch.reset();
  ssm.reset();
  ssm.on(DescribeInstanceAssociationsStatusCommand).resolves({ InstanceAssociationStatusInfos: [] });
  ec2.on(DescribeSpotPriceHistoryCommand).resolves({
    SpotPriceHistory: [{ AvailabilityZone: 'us-east-2c', InstanceType: 'trn1.2xlarge', SpotPrice: '0.403100', Timestamp: new Date() }],
  });
  cloudWatch.on(GetMetricStatisticsCommand).resolves({ Datapoints: [] });
});

describe('status', () => {
  test('GIVEN no box of the stack WHEN status runs THEN it exits 1 and says where it looked', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });

    const run = await runCli(['status']);

    expect(run.code).toBe(1);
    expect(run.stdout).toBe('No box named trainium-spot in us-east-2. Deployed elsewhere? Pass --region, or set "region" in the config.\n');
    expect(ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, {
      Filters: [
        { Name: 'tag:Name', Values: ['trainium-spot'] },
        { Name: 'tag:ManagedBy', Values: ['trainium-spot'] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped', 'shutting-down'] },
      ],
    });
  });

  test('GIVEN one running spot box WHEN status --output json THEN it reports state, AZ, IP, uptime, idle verdict, spot price and cost', async () => {
    // GIVEN
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ OwnerId: ACCOUNT, Instances: [box({ InstanceId: 'i-0aaa' })] }] });
    cloudWatch.on(GetMetricStatisticsCommand).resolves({
      Datapoints: [
        { Timestamp: new Date('2026-12-01T10:00:00Z'), Maximum: 0 },
        { Timestamp: new Date('2026-12-01T10:05:00Z'), Maximum: 1 },
      ],
    });
    // WHEN
    const { code, json } = await runJson<StatusReport>(['status']);
    // THEN
    expect(code).toBe(0);
    expect(json.boxes).toHaveLength(1);
    expect(json.boxes[0]).toMatchObject({
      instanceId: 'i-0aaa', state: 'running', market: 'spot', instanceType: 'trn1.2xlarge',
      availabilityZone: 'us-east-2c', availabilityZoneId: 'use2-az3', publicIp: '203.0.113.10',
      idle: { verdict: 'idle', at: '2026-12-01T10:05:00.000Z' }, spotPricePerHour: 0.4031, costPerHour: 0.4031,
    });
    expect(json.boxes[0].uptimeMinutes).toBeGreaterThanOrEqual(89);
    expect(json.boxes[0].uptimeMinutes).toBeLessThanOrEqual(91);
    expect(json.costPerHour).toBe(0.4031);
    expect(json.boxes[0].instanceArn).toBe('arn:aws:ec2:us-east-2:123456789012:instance/i-0aaa');
    expect(cloudWatch).toHaveReceivedCommandWith(GetMetricStatisticsCommand, {
      Namespace: 'TrainiumSpot/Idle/arn:aws:ec2:us-east-2:123456789012:instance/i-0aaa',
      MetricName: IDLE_METRIC.name, Dimensions: [{ Name: 'InstanceId', Value: 'i-0aaa' }],
    });
  });

  test('GIVEN two running boxes WHEN status THEN it reads each box\'s verdict in that box\'s own namespace, the only one the box may publish to', async () => {
    // GIVEN
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [{ OwnerId: ACCOUNT, Instances: [box({ InstanceId: 'i-0aaa' })] }, { OwnerId: ACCOUNT, Instances: [box({ InstanceId: 'i-0bbb' })] }],
    });
    // WHEN
    const { code } = await runJson<StatusReport>(['status']);
    // THEN
    expect(code).toBe(0);
    expect(cloudWatch.commandCalls(GetMetricStatisticsCommand).map((c) => [c.args[0].input.Namespace, c.args[0].input.Dimensions]).sort()).toEqual([
      [verdictNamespace('arn:aws:ec2:us-east-2:123456789012:instance/i-0aaa'), [{ Name: 'InstanceId', Value: 'i-0aaa' }]],
      [verdictNamespace('arn:aws:ec2:us-east-2:123456789012:instance/i-0bbb'), [{ Name: 'InstanceId', Value: 'i-0bbb' }]],
    ]);
  });

  test('GIVEN EC2 names no owner of the reservation WHEN status THEN the box has no ARN, its idle check shows "-", and no call guesses one', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [box({ InstanceId: 'i-0aaa' })] }] });

    const { code, json, stderr } = await runJson<StatusReport>(['status']);

    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(json.boxes[0]).toMatchObject({ instanceArn: null, idle: null });
    expect(cloudWatch).toHaveReceivedCommandTimes(GetMetricStatisticsCommand, 0);
  });

  test('GIVEN a box in a China region WHEN status --region cn-north-1 THEN its namespace names the aws-cn partition', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ OwnerId: ACCOUNT, Instances: [box({ InstanceId: 'i-0aaa' })] }] });

    const { json } = await runJson<StatusReport>(['status', '--region', 'cn-north-1']);

    expect(json.boxes[0].instanceArn).toBe('arn:aws-cn:ec2:cn-north-1:123456789012:instance/i-0aaa');
    expect(cloudWatch).toHaveReceivedCommandWith(GetMetricStatisticsCommand, {
      Namespace: 'TrainiumSpot/Idle/arn:aws-cn:ec2:cn-north-1:123456789012:instance/i-0aaa',
    });
  });

  test.each([['us-east-2', 'aws'], ['us-gov-west-1', 'aws-us-gov'], ['cn-north-1', 'aws-cn'], ['cn-northwest-1', 'aws-cn']])(
    'the partition of %s is %s, as in the AWS SDK\'s partition table', (region, partition) => {
      expect(partitionOf(region)).toBe(partition);
    });

  test('GIVEN two boxes, one stopped and one on demand WHEN status THEN the table lists both and only the running one costs', async () => {
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [{
        OwnerId: ACCOUNT,
        Instances: [
          box({ InstanceId: 'i-0bbb', state: 'stopped', StateReason: { Code: 'Client.UserInitiatedShutdown' } }),
          box({ InstanceId: 'i-0aaa', InstanceLifecycle: undefined }),
        ],
      }],
    });

    const { json } = await runJson<StatusReport>(['status']);
    const run = await runCli(['status']);

    expect(json.boxes.map((b) => [b.instanceId, b.state, b.market, b.costPerHour, b.uptimeMinutes === null])).toEqual([
      ['i-0aaa', 'running', 'on-demand', INSTANCE_TYPES['trn1.2xlarge'].onDemandPricePerHour, false],
      ['i-0bbb', 'stopped', 'spot', 0, true],
    ]);
    expect(json.costPerHour).toBe(INSTANCE_TYPES['trn1.2xlarge'].onDemandPricePerHour);
    expect(cloudWatch).toHaveReceivedCommandTimes(GetMetricStatisticsCommand, 2); // one per run, running box only
    expect(run.stdout).toContain('trainium-spot in us-east-2, deployment 3f2a9c1e-0b6d-4c1e-9a57-2f4b1d3e8c70: 2 boxes, 1 running');
    expect(run.stdout).toMatch(/\| i-0bbb +\| stopped +\| spot +\|/);
  });

  test('GIVEN TRAINIUM_SPOT_REGION and a config name WHEN status THEN it looks there, for that name', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    const run = await runCli(['status'], { env: { TRAINIUM_SPOT_REGION: 'us-west-2', AWS_REGION: 'us-west-2' } });
    expect(run.stdout).toContain('in us-west-2');
    expect(await ec2.call(0).thisValue.config.region()).toBe('us-west-2');
  });

  test('fails when EC2 denies DescribeInstances: exit 2, one line naming the action', async () => {
    ec2.on(DescribeInstancesCommand).rejects(awsError('UnauthorizedOperation'));
    const run = await runCli(['status']);
    expect(run.code).toBe(2);
    expectOneLine(run.stderr);
    expect(run.stderr).toContain('ec2:DescribeInstances in us-east-2');
  });

  test('fails when EC2 answers DescribeInstances with a server error: exit 2, one line, no secondary call made', async () => {
    ec2.on(DescribeInstancesCommand).rejects(serverError('InternalError'));
    const run = await runCli(['status']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('trainium-spot: ec2:DescribeInstances in us-east-2 failed: InternalError: We encountered an internal error. Please try again.\n');
    expect(cloudWatch).toHaveReceivedCommandTimes(GetMetricStatisticsCommand, 0);
    expect(ssm).toHaveReceivedCommandTimes(DescribeInstanceAssociationsStatusCommand, 0);
  });
});

// ---------------------------------------------------------------------------------------------
// The agent's health from SSM State Manager
// ---------------------------------------------------------------------------------------------

describe('status: the agent column', () => {
  beforeEach(() => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ OwnerId: ACCOUNT, Instances: [box({ InstanceId: 'i-0aaa' })] }] });
  });

  test('GIVEN the box ran the stack\'s association among others WHEN status THEN it shows that one: success, document version, time', async () => {
    // GIVEN another association listed first, on a different document version
    ssm.on(DescribeInstanceAssociationsStatusCommand).resolves({
      InstanceAssociationStatusInfos: [
        agentEntry({ AssociationName: 'Inventory-Association', Name: 'AWS-GatherSoftwareInventory', DocumentVersion: '1', Status: 'Failed' }),
        agentEntry(),
      ],
    });
    // WHEN
    const { code, json, stderr } = await runJson<StatusReport>(['status']);
    const table = await runCli(['status']);
    // THEN
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(json.agentAssociation).toBe('trainium-spot-agent');
    expect(json.boxes[0].agent).toEqual({
      state: 'success', ssmStatus: 'Success', detailedStatus: 'Success', reason: null, errorCode: null,
      at: '2026-12-01T15:02:00.000Z', documentVersion: '3', associationVersion: '1',
    });
    expect(json.failedCalls).toEqual([]);
    expect(tableCell(table.stdout, 'i-0aaa', 'Agent')).toBe('success v3 at 2026-12-01 15:02Z');
    expect(ssm).toHaveReceivedCommandWith(DescribeInstanceAssociationsStatusCommand, { InstanceId: 'i-0aaa', MaxResults: 50 });
  });

  test('GIVEN the association ran today WHEN status THEN the time is shown without the date', async () => {
    const today = new Date();
    today.setUTCHours(0, 5, 0, 0);
    ssm.on(DescribeInstanceAssociationsStatusCommand).resolves({ InstanceAssociationStatusInfos: [agentEntry({ ExecutionDate: today })] });

    const run = await runCli(['status']);

    expect(tableCell(run.stdout, 'i-0aaa', 'Agent')).toBe('success v3 at 00:05Z');
  });

  test('GIVEN the association failed on the box WHEN status THEN the cell says failed and a line under the table gives SSM\'s reason', async () => {
    ssm.on(DescribeInstanceAssociationsStatusCommand).resolves({
      InstanceAssociationStatusInfos: [agentEntry({
        Status: 'Failed', DetailedStatus: 'TimedOut', ErrorCode: '1',
        ExecutionSummary: '1 out of 1 plugin processed, 0 success, 0 failed,\n1 timedout, 0 skipped. ',
      })],
    });

    const { code, json, stderr } = await runJson<StatusReport>(['status']);
    const table = await runCli(['status']);

    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(json.boxes[0].agent).toMatchObject({
      state: 'failed', ssmStatus: 'Failed', detailedStatus: 'TimedOut', errorCode: '1',
      reason: 'TimedOut: 1 out of 1 plugin processed, 0 success, 0 failed, 1 timedout, 0 skipped',
    });
    expect(tableCell(table.stdout, 'i-0aaa', 'Agent')).toBe('failed v3 at 2026-12-01 15:02Z');
    expect(table.stdout).toContain('+\ni-0aaa: trainium-spot-agent failed: TimedOut: 1 out of 1 plugin processed, 0 success, 0 failed, ' +
      '1 timedout, 0 skipped. Details: aws ssm describe-instance-associations-status --instance-id i-0aaa --region us-east-2\n');
  });

  test('GIVEN a failed run with neither detail nor summary WHEN status THEN the reason is SSM\'s error code', async () => {
    ssm.on(DescribeInstanceAssociationsStatusCommand).resolves({
      InstanceAssociationStatusInfos: [agentEntry({ Status: 'Failed', DetailedStatus: undefined, ExecutionSummary: undefined, ErrorCode: '127' })],
    });
    const { json } = await runJson<StatusReport>(['status']);
    expect(json.boxes[0].agent).toMatchObject({ state: 'failed', reason: 'error code 127' });
  });

  test('GIVEN the association has not run on the box yet WHEN status THEN it shows pending', async () => {
    ssm.on(DescribeInstanceAssociationsStatusCommand).resolves({
      InstanceAssociationStatusInfos: [agentEntry({ Status: 'Pending', DetailedStatus: 'Associated', ExecutionDate: undefined, ExecutionSummary: undefined })],
    });

    const { json } = await runJson<StatusReport>(['status']);
    const table = await runCli(['status']);

    expect(json.boxes[0].agent).toMatchObject({ state: 'pending', reason: null, at: null, detailedStatus: 'Associated' });
    expect(tableCell(table.stdout, 'i-0aaa', 'Agent')).toBe('pending v3');
  });

  test.each<[string, () => void]>([
    ['SSM lists no association of the stack for it', () =>
      ssm.on(DescribeInstanceAssociationsStatusCommand).resolves({ InstanceAssociationStatusInfos: [agentEntry({ AssociationName: 'other-agent' })] })],
    ['SSM says it is no managed node (InvalidInstanceId)', () =>
      ssm.on(DescribeInstanceAssociationsStatusCommand).rejects(awsError('InvalidInstanceId', 'Instance id i-0aaa is not valid'))],
  ])('GIVEN a box that %s WHEN status THEN its agent is none, without a warning', async (_case, given) => {
    given();

    const { code, json, stderr } = await runJson<StatusReport>(['status']);
    const table = await runCli(['status']);

    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(json.boxes[0].agent).toMatchObject({ state: 'none', ssmStatus: null, at: null });
    expect(json.failedCalls).toEqual([]);
    expect(tableCell(table.stdout, 'i-0aaa', 'Agent')).toBe('none');
  });

  test('GIVEN SSM reports a status it does not document WHEN status THEN it is unknown in JSON and shown as SSM says it', async () => {
    ssm.on(DescribeInstanceAssociationsStatusCommand).resolves({ InstanceAssociationStatusInfos: [agentEntry({ Status: 'InProgress' })] });
    const { json } = await runJson<StatusReport>(['status']);
    const table = await runCli(['status']);
    expect(json.boxes[0].agent).toMatchObject({ state: 'unknown', ssmStatus: 'InProgress' });
    expect(tableCell(table.stdout, 'i-0aaa', 'Agent')).toBe('inprogress v3 at 2026-12-01 15:02Z');
  });

  test('GIVEN a config named lab WHEN status THEN it looks for the association lab-agent', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-status-'));
    try {
      const file = path.join(dir, 'config.json');
      fs.writeFileSync(file, JSON.stringify({ name: 'lab' }));
      ssm.on(DescribeInstanceAssociationsStatusCommand).resolves({
        InstanceAssociationStatusInfos: [agentEntry(), agentEntry({ AssociationName: 'lab-agent', DocumentVersion: '7' })],
      });

      const { json } = await runJson<StatusReport>(['status'], { env: { AWS_REGION: 'us-east-2', TRAINIUM_SPOT_CONFIG: file }, cwd: dir });

      expect(json.agentAssociation).toBe('lab-agent');
      expect(json.boxes[0].agent?.documentVersion).toBe('7');
      expect(ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, { Filters: expect.arrayContaining([{ Name: 'tag:Name', Values: ['lab'] }]) });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Secondary calls fail soft
// ---------------------------------------------------------------------------------------------

describe('status: a failing secondary call leaves "-" and one warning line', () => {
  beforeEach(() => {
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [{ OwnerId: ACCOUNT, Instances: [box({ InstanceId: 'i-0aaa' }), box({ InstanceId: 'i-0bbb' })] }],
    });
    ssm.on(DescribeInstanceAssociationsStatusCommand).resolves({ InstanceAssociationStatusInfos: [agentEntry()] });
    cloudWatch.on(GetMetricStatisticsCommand).resolves({ Datapoints: [{ Timestamp: new Date('2026-12-01T10:05:00Z'), Maximum: 0 }] });
  });

  test('GIVEN CloudWatch denies reading the idle metric WHEN status on two boxes THEN both verdicts are "-", one warning, exit 0', async () => {
    cloudWatch.on(GetMetricStatisticsCommand).rejects(awsError('AccessDenied'));

    const { code, json, stderr } = await runJson<StatusReport>(['status']);
    const table = await runCli(['status']);

    expect(code).toBe(0);
    expect(stderr).toBe('trainium-spot: warning: "-" under Idle check: access denied: your credentials may not call ' +
      'cloudwatch:GetMetricStatistics in us-east-2 (AccessDenied); allow the IAM action cloudwatch:GetMetricStatistics for your user or role\n');
    expect(table.stderr).toBe(stderr);
    expect(json.boxes.map((b) => b.idle)).toEqual([null, null]);
    expect(json.boxes.map((b) => b.agent?.state)).toEqual(['success', 'success']);
    expect(json.boxes[0].costPerHour).toBe(0.4031);
    expect(json.failedCalls).toEqual([{ action: 'cloudwatch:GetMetricStatistics', message: expect.stringContaining('(AccessDenied)') }]);
    expect(['i-0aaa', 'i-0bbb'].map((id) => tableCell(table.stdout, id, 'Idle check'))).toEqual(['-', '-']);
    expect(tableCell(table.stdout, 'i-0aaa', 'Agent')).toBe('success v3 at 2026-12-01 15:02Z');
  });

  test('GIVEN CloudWatch keeps throttling WHEN status THEN the verdict is "-" and the warning names the throttling', async () => {
    cloudWatch.on(GetMetricStatisticsCommand).rejects(awsError('Throttling', 'Rate exceeded', 6));

    const { code, json, stderr } = await runJson<StatusReport>(['status']);

    expect(code).toBe(0);
    expectOneLine(stderr);
    expect(stderr).toBe('trainium-spot: warning: "-" under Idle check: AWS throttled cloudwatch:GetMetricStatistics in us-east-2 ' +
      '(Throttling) after 6 attempts: wait a minute and run again, or query fewer regions at once\n');
    expect(json.boxes.map((b) => b.idle)).toEqual([null, null]);
  });

  test('GIVEN SSM denies the association status WHEN status on two boxes THEN both agents are "-", one warning, exit 0', async () => {
    ssm.on(DescribeInstanceAssociationsStatusCommand).rejects(awsError('AccessDeniedException', 'User: arn:aws:iam::123456789012:user/dev is not authorized'));

    const { code, json, stderr } = await runJson<StatusReport>(['status']);
    const table = await runCli(['status']);

    expect(code).toBe(0);
    expect(stderr).toBe('trainium-spot: warning: "-" under Agent: access denied: your credentials may not call ' +
      'ssm:DescribeInstanceAssociationsStatus in us-east-2 (AccessDeniedException); allow the IAM action ' +
      'ssm:DescribeInstanceAssociationsStatus for your user or role\n');
    expect(json.boxes.map((b) => b.agent)).toEqual([null, null]);
    expect(json.boxes.map((b) => b.idle?.verdict)).toEqual(['busy', 'busy']);
    expect(['i-0aaa', 'i-0bbb'].map((id) => tableCell(table.stdout, id, 'Agent'))).toEqual(['-', '-']);
  });

  test('GIVEN EC2 answers the spot price with a server error WHEN status THEN the spot price is "-", the cost falls back to on-demand, exit 0', async () => {
    ec2.on(DescribeSpotPriceHistoryCommand).rejects(serverError('InternalError'));

    const { code, json, stderr } = await runJson<StatusReport>(['status']);
    const table = await runCli(['status']);

    expect(code).toBe(0);
    expect(stderr).toBe('trainium-spot: warning: "-" under Spot $/h: ec2:DescribeSpotPriceHistory in us-east-2 failed: ' +
      'InternalError: We encountered an internal error. Please try again.\n');
    expect(json.boxes.map((b) => [b.spotPricePerHour, b.costPerHour])).toEqual([
      [null, INSTANCE_TYPES['trn1.2xlarge'].onDemandPricePerHour], [null, INSTANCE_TYPES['trn1.2xlarge'].onDemandPricePerHour],
    ]);
    expect(tableCell(table.stdout, 'i-0bbb', 'Spot $/h')).toBe('-');
  });

  test('GIVEN every secondary call fails WHEN status THEN one warning per kind of call, ordered, and the boxes are still listed with exit 0', async () => {
    ssm.on(DescribeInstanceAssociationsStatusCommand).rejects(serverError('InternalServerError'));
    cloudWatch.on(GetMetricStatisticsCommand).rejects(awsError('AccessDenied'));
    ec2.on(DescribeSpotPriceHistoryCommand).rejects(awsError('RequestLimitExceeded', 'Request limit exceeded.', 6));

    const run = await runCli(['status']);

    expect(run.code).toBe(0);
    const warnings = run.stderr.trimEnd().split('\n');
    expect(warnings).toHaveLength(3);
    expect(warnings.map((line) => /^trainium-spot: warning: "-" under ([^:]+): /.exec(line)?.[1])).toEqual(['Idle check', 'Spot $/h', 'Agent']);
    expect(warnings[1]).toContain('ec2:DescribeSpotPriceHistory in us-east-2 (RequestLimitExceeded) after 6 attempts');
    expect(warnings[2]).toContain('ssm:DescribeInstanceAssociationsStatus in us-east-2 failed: InternalServerError');
    expect(['Agent', 'Idle check', 'Spot $/h'].map((column) => tableCell(run.stdout, 'i-0aaa', column))).toEqual(['-', '-', '-']);
    expect(tableCell(run.stdout, 'i-0aaa', 'State')).toBe('running');
  });
});

// ---------------------------------------------------------------------------------------------
// The data volume of each box
// ---------------------------------------------------------------------------------------------

describe('status: the data volume column', () => {
  let dir: string;
  /** The CLI's env with a config file holding `config`. */
  const withConfig = (config: object) => {
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify(config));
    return { env: { AWS_REGION: 'us-east-2', TRAINIUM_SPOT_CONFIG: file }, cwd: dir };
  };
  const attached = (volumeId: string, instanceId: string, state = 'attached') => ({
    VolumeId: volumeId, Size: 500, Attachments: [{ InstanceId: instanceId, Device: '/dev/sdf', State: state as never, VolumeId: volumeId }],
  });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-status-'));
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [box({ InstanceId: 'i-0aaa' }), box({ InstanceId: 'i-0bbb' }), box({ InstanceId: 'i-0ccc' })] }],
    });
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('GIVEN a config with dataVolume WHEN status THEN each box shows the volume attached to it at /dev/sdf, its size, or none', async () => {
    // GIVEN one volume attached, one still attaching, and a box without one
    ec2.on(DescribeVolumesCommand).resolves({ Volumes: [attached('vol-0aaa', 'i-0aaa'), attached('vol-0bbb', 'i-0bbb', 'attaching')] });
    // WHEN
    const { code, json, stderr } = await runJson<StatusReport>(['status'], withConfig({ dataVolume: { sizeGiB: 500 } }));
    const table = await runCli(['status'], withConfig({ dataVolume: { sizeGiB: 500 } }));
    // THEN
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(json.dataVolumes).toBe(true);
    expect(json.boxes.map((b) => b.dataVolume)).toEqual([
      { state: 'attached', volumeId: 'vol-0aaa', sizeGiB: 500 },
      { state: 'attaching', volumeId: 'vol-0bbb', sizeGiB: 500 },
      { state: 'none', volumeId: null, sizeGiB: null },
    ]);
    expect(['i-0aaa', 'i-0bbb', 'i-0ccc'].map((id) => tableCell(table.stdout, id, 'Data volume')))
      .toEqual(['vol-0aaa 500 GiB', 'vol-0bbb 500 GiB (attaching)', 'none']);
    // One call for every box, asking for the stack's device name only
    expect(ec2).toHaveReceivedCommandWith(DescribeVolumesCommand, {
      Filters: [{ Name: 'attachment.instance-id', Values: ['i-0aaa', 'i-0bbb', 'i-0ccc'] }, { Name: 'attachment.device', Values: ['/dev/sdf'] }],
    });
  });

  test('GIVEN a config without dataVolume WHEN status THEN EC2 is not asked, and there is no such column', async () => {
    const { json } = await runJson<StatusReport>(['status'], withConfig({}));
    const table = await runCli(['status'], withConfig({}));

    expect(json.dataVolumes).toBe(false);
    expect(json.boxes.map((b) => b.dataVolume)).toEqual([null, null, null]);
    expect(Object.keys(tableRows(table.stdout)[0])).not.toContain('Data volume');
    expect(ec2).toHaveReceivedCommandTimes(DescribeVolumesCommand, 0);
  });

  test('GIVEN EC2 denies DescribeVolumes WHEN status THEN every volume is "-", one warning names the column, exit 0', async () => {
    ec2.on(DescribeVolumesCommand).rejects(awsError('UnauthorizedOperation'));

    const { code, json, stderr } = await runJson<StatusReport>(['status'], withConfig({ dataVolume: { sizeGiB: 500 } }));
    const table = await runCli(['status'], withConfig({ dataVolume: { sizeGiB: 500 } }));

    expect(code).toBe(0);
    expect(stderr).toMatch(/^trainium-spot: warning: "-" under Data volume: access denied: your credentials may not call ec2:DescribeVolumes in us-east-2 \(UnauthorizedOperation\)/);
    expectOneLine(stderr);
    expect(json.boxes.map((b) => b.dataVolume)).toEqual([null, null, null]);
    expect(json.failedCalls).toEqual([{ action: 'ec2:DescribeVolumes', message: expect.stringContaining('(UnauthorizedOperation)') }]);
    expect(tableCell(table.stdout, 'i-0aaa', 'Data volume')).toBe('-');
    expect(tableCell(table.stdout, 'i-0aaa', 'State')).toBe('running');
  });
});
