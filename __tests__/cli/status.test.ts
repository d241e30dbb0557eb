import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeInstancesCommand, DescribeSpotPriceHistoryCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { IDLE_METRIC, INSTANCE_TYPES } from '../../src/catalog';
import { StatusReport } from '../../src/cli/report';
import { awsError, box, expectOneLine, runCli, runJson } from './cli-test-helpers';

const ec2 = mockClient(EC2Client);
const cloudWatch = mockClient(CloudWatchClient);

beforeEach(() => {
  ec2.reset();
  cloudWatch.reset();
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
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [box({ InstanceId: 'i-0aaa' })] }] });
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
    expect(cloudWatch).toHaveReceivedCommandWith(GetMetricStatisticsCommand, {
      Namespace: IDLE_METRIC.namespace, MetricName: IDLE_METRIC.name, Dimensions: [{ Name: 'InstanceId', Value: 'i-0aaa' }],
    });
  });

  test('GIVEN two boxes, one stopped and one on demand WHEN status THEN the table lists both and only the running one costs', async () => {
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [{
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
    expect(run.stdout).toContain('trainium-spot in us-east-2: 2 boxes, 1 running');
    expect(run.stdout).toMatch(/\| i-0bbb +\| stopped +\| spot +\|/);
  });

  test('GIVEN TRAINIUM_SPOT_REGION and a config name WHEN status THEN it looks there, for that name', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    const run = await runCli(['status'], { env: { TRAINIUM_SPOT_REGION: 'us-west-2', AWS_REGION: 'us-west-2' } });
    expect(run.stdout).toContain('in us-west-2');
    expect(await ec2.call(0).thisValue.config.region()).toBe('us-west-2');
  });

  test('GIVEN CloudWatch denies reading the idle metric WHEN status THEN the verdict is unknown and the rest is shown', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [box({ InstanceId: 'i-0aaa' })] }] });
    cloudWatch.on(GetMetricStatisticsCommand).rejects(awsError('AccessDenied'));

    const { code, json, stderr } = await runJson<StatusReport>(['status']);

    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(json.boxes[0]).toMatchObject({ instanceId: 'i-0aaa', idle: null, costPerHour: 0.4031 });
  });

  test('fails when EC2 denies DescribeInstances: exit 2, one line naming the action', async () => {
    ec2.on(DescribeInstancesCommand).rejects(awsError('UnauthorizedOperation'));
    const run = await runCli(['status']);
    expect(run.code).toBe(2);
    expectOneLine(run.stderr);
    expect(run.stderr).toContain('ec2:DescribeInstances in us-east-2');
  });
});
