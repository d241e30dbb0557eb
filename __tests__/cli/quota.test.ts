import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  _InstanceType,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  EC2Client,
  Instance,
} from '@aws-sdk/client-ec2';
import {
  GetAWSDefaultServiceQuotaCommand,
  GetServiceQuotaCommand,
  ListRequestedServiceQuotaChangeHistoryByQuotaCommand,
  NoSuchResourceException,
  RequestServiceQuotaIncreaseCommand,
  ResourceAlreadyExistsException,
  ServiceQuotasClient,
} from '@aws-sdk/client-service-quotas';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { QUOTAS } from '../../src/catalog';
import { assessQuota } from '../../src/cli/commands/quota';
import { QuotaReport, QuotaRequestReport, QuotaStatusReport } from '../../src/cli/report';
import { expectOneLine, runCli, runJson, TEST_REGION } from './cli-test-helpers';

const ec2 = mockClient(EC2Client);
const quotas = mockClient(ServiceQuotasClient);

const TRN_SPOT = QUOTAS.trn.spot;
const TRN_ON_DEMAND = QUOTAS.trn['on-demand'];

const instance = (id: string, type: string, lifecycle?: string, extra: Partial<Instance> = {}): Instance =>
  ({ InstanceId: id, InstanceType: type, InstanceLifecycle: lifecycle, State: { Name: 'running' }, ...extra }) as Instance;

const instancesPage = (instances: Instance[], nextToken?: string) => ({
  Reservations: [{ Instances: instances }],
  NextToken: nextToken,
});

const appliedQuota = (value: number, ref = TRN_SPOT) => ({ Quota: { QuotaCode: ref.code, QuotaName: ref.name, Value: value } });

const noSuchResource = () => new NoSuchResourceException({ message: 'Service quota does not exist', $metadata: {} });

beforeEach(() => {
  ec2.reset();
  quotas.reset();
});

// ---------------------------------------------------------------------------------------------
// Arithmetic
// ---------------------------------------------------------------------------------------------

describe('assessQuota', () => {
  test('GIVEN quota 8 with 8 in use WHEN one 8-vCPU instance is wanted THEN it does not fit and 16 is asked for', () => {
    expect(assessQuota({ quotaVcpus: 8, inUseVcpus: 8, vcpusPerInstance: 8, instancesWanted: 1 })).toEqual({
      neededVcpus: 8,
      freeVcpus: 0,
      additionalInstancesThatFit: 0,
      fits: false,
      desiredVcpus: 16,
    });
  });

  test('GIVEN quota 16 with 8 in use WHEN one 8-vCPU instance is wanted THEN it fits, with room for one more', () => {
    expect(assessQuota({ quotaVcpus: 16, inUseVcpus: 8, vcpusPerInstance: 8, instancesWanted: 1 })).toEqual({
      neededVcpus: 8,
      freeVcpus: 8,
      additionalInstancesThatFit: 1,
      fits: true,
      desiredVcpus: 16,
    });
  });

  test('GIVEN usage that is not a multiple of the instance size WHEN it does not fit THEN the ask is rounded up to whole instances', () => {
    const result = assessQuota({ quotaVcpus: 32, inUseVcpus: 4, vcpusPerInstance: 32, instancesWanted: 1 });
    expect(result.fits).toBe(false);
    expect(result.desiredVcpus).toBe(64);
  });

  test('GIVEN more in use than the quota WHEN assessed THEN free is 0, never negative', () => {
    expect(assessQuota({ quotaVcpus: 8, inUseVcpus: 24, vcpusPerInstance: 8, instancesWanted: 2 })).toMatchObject({
      freeVcpus: 0,
      neededVcpus: 16,
      desiredVcpus: 40,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// quota
// ---------------------------------------------------------------------------------------------

describe('quota', () => {
  test('GIVEN quota 16 and one spot trn1.2xlarge running WHEN quota runs THEN it fits one more and exits 0', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(16));
    ec2.on(DescribeInstancesCommand).resolves(instancesPage([instance('i-1', 'trn1.2xlarge', 'spot')]));

    const run = await runCli(['quota']);

    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('All Trn Spot Instance Requests (L-6B0D517C): 16 vCPUs');
    expect(run.stdout).toContain('8 vCPUs: 1 running or pending spot trn instance (1x trn1.2xlarge)');
    expect(run.stdout).toContain('Room for      1 more trn1.2xlarge');
    expect(run.stdout).toContain('FITS: 1 more trn1.2xlarge spot instance needs 8 vCPUs, and 8 of 16 are free.');
    expect(run.stdout).not.toContain('request-service-quota-increase');
  });

  test('GIVEN quota 8 with 8 in use WHEN quota runs THEN it does not fit, prints the increase command and console path, and exits 1', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(8));
    ec2.on(DescribeInstancesCommand).resolves(instancesPage([instance('i-1', 'trn1.2xlarge', 'spot')]));

    const run = await runCli(['quota']);

    expect(run.code).toBe(1);
    expect(run.stdout).toContain('DOES NOT FIT: 1 more trn1.2xlarge spot instance needs 8 vCPUs, but only 0 of 8 are free.');
    expect(run.stdout).toContain(
      'aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-6B0D517C --desired-value 16 --region us-east-2',
    );
    expect(run.stdout).toContain('trainium-spot quota --request 16 --instance-type trn1.2xlarge --market spot --region us-east-2');
    expect(run.stdout).toContain('Service Quotas > AWS services > Amazon EC2 > All Trn Spot Instance Requests');
    expect(run.stdout).toContain('https://us-east-2.console.aws.amazon.com/servicequotas/home/services/ec2/quotas/L-6B0D517C');
  });

  test('GIVEN a spot check WHEN quota runs THEN it asks for the spot quota and running/pending instances of the trn classes', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(8));
    ec2.on(DescribeInstancesCommand).resolves(instancesPage([]));

    await runCli(['quota']);

    expect(quotas).toHaveReceivedCommandWith(GetServiceQuotaCommand, { ServiceCode: 'ec2', QuotaCode: TRN_SPOT.code });
    expect(ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, {
      Filters: [
        { Name: 'instance-state-name', Values: ['pending', 'running'] },
        { Name: 'instance-type', Values: ['trn*'] },
      ],
    });
  });

  test('GIVEN --output json WHEN quota fits THEN the document has the documented shape', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(16));
    ec2.on(DescribeInstancesCommand).resolves(instancesPage([instance('i-1', 'trn1.2xlarge', 'spot')]));

    const { code, json } = await runJson<QuotaReport>(['quota']);

    expect(code).toBe(0);
    expect(json).toEqual<QuotaReport>({
      schemaVersion: 1,
      command: 'quota',
      region: 'us-east-2',
      instanceType: 'trn1.2xlarge',
      market: 'spot',
      quota: { serviceCode: 'ec2', code: 'L-6B0D517C', name: 'All Trn Spot Instance Requests', valueVcpus: 16, source: 'applied' },
      usage: {
        inUseVcpus: 8,
        instances: [{ instanceId: 'i-1', instanceType: 'trn1.2xlarge', lifecycle: 'spot', state: 'running', vcpus: 8 }],
      },
      vcpusPerInstance: 8,
      instancesWanted: 1,
      neededVcpus: 8,
      freeVcpus: 8,
      additionalInstancesThatFit: 1,
      verdict: 'fits',
      catalogOffersTypeInRegion: true,
      increase: null,
    });
  });

  test('GIVEN --output json WHEN it does not fit THEN increase holds the desired value, command and console location', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(8));
    ec2.on(DescribeInstancesCommand).resolves(instancesPage([instance('i-1', 'trn1.2xlarge', 'spot')]));

    const { code, json } = await runJson<QuotaReport>(['quota']);

    expect(code).toBe(1);
    expect(json.verdict).toBe('does-not-fit');
    expect(json.increase).toEqual({
      desiredVcpus: 16,
      cliCommand:
        'aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-6B0D517C --desired-value 16 --region us-east-2',
      consolePath: 'Service Quotas > AWS services > Amazon EC2 > All Trn Spot Instance Requests',
      consoleUrl: 'https://us-east-2.console.aws.amazon.com/servicequotas/home/services/ec2/quotas/L-6B0D517C',
    });
  });

  test('GIVEN no applied value WHEN quota runs THEN it falls back to the AWS default and says so', async () => {
    quotas.on(GetServiceQuotaCommand).rejects(noSuchResource());
    quotas.on(GetAWSDefaultServiceQuotaCommand).resolves(appliedQuota(0));
    ec2.on(DescribeInstancesCommand).resolves(instancesPage([]));

    const run = await runCli(['quota']);

    expect(run.code).toBe(1);
    expect(quotas).toHaveReceivedCommandWith(GetAWSDefaultServiceQuotaCommand, { ServiceCode: 'ec2', QuotaCode: TRN_SPOT.code });
    expect(run.stdout).toContain('0 vCPUs - the AWS default: no value has been applied to this account');
    expect(run.stdout).toContain('--desired-value 8 ');
  });

  test('GIVEN no applied value WHEN --output json THEN quota.source is aws-default', async () => {
    quotas.on(GetServiceQuotaCommand).rejects(noSuchResource());
    quotas.on(GetAWSDefaultServiceQuotaCommand).resolves(appliedQuota(0));
    ec2.on(DescribeInstancesCommand).resolves(instancesPage([]));

    const { json } = await runJson<QuotaReport>(['quota']);

    expect(json.quota.source).toBe('aws-default');
    expect(json.quota.valueVcpus).toBe(0);
  });

  test('GIVEN spot, on-demand and Capacity Block instances WHEN the on-demand quota is checked THEN all but spot count', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(512, TRN_ON_DEMAND));
    ec2.on(DescribeInstancesCommand).resolves(
      instancesPage([
        instance('i-spot', 'trn1.2xlarge', 'spot'),
        instance('i-od', 'trn1.2xlarge'),
        instance('i-cb', 'trn1.32xlarge', 'capacity-block'),
      ]),
    );

    const { json } = await runJson<QuotaReport>(['quota', '--market', 'on-demand']);

    expect(quotas).toHaveReceivedCommandWith(GetServiceQuotaCommand, { QuotaCode: TRN_ON_DEMAND.code });
    expect(json.usage.instances.map((i) => i.instanceId)).toEqual(['i-od', 'i-cb']);
    expect(json.usage.inUseVcpus).toBe(8 + 128);
  });

  test('GIVEN spot and on-demand instances WHEN the spot quota is checked THEN only spot instances count', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(64));
    ec2.on(DescribeInstancesCommand).resolves(
      instancesPage([instance('i-spot', 'trn1.2xlarge', 'spot'), instance('i-od', 'trn1.32xlarge')]),
    );

    const { json } = await runJson<QuotaReport>(['quota']);

    expect(json.usage.inUseVcpus).toBe(8);
    expect(json.additionalInstancesThatFit).toBe(7);
  });

  test('GIVEN an instance with reduced CPU options WHEN counted THEN its default vCPUs count, not cores x threads', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(16));
    ec2.on(DescribeInstancesCommand).resolves(
      instancesPage([instance('i-1', 'trn1.2xlarge', 'spot', { CpuOptions: { CoreCount: 1, ThreadsPerCore: 1 } })]),
    );

    const { json } = await runJson<QuotaReport>(['quota']);

    expect(json.usage.inUseVcpus).toBe(8);
  });

  test('GIVEN a running type the catalog does not hold WHEN counted THEN its default vCPUs come from DescribeInstanceTypes', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(256));
    ec2.on(DescribeInstancesCommand).resolves(instancesPage([instance('i-u', 'trn2u.48xlarge', 'spot')]));
    ec2.on(DescribeInstanceTypesCommand).resolves({
      InstanceTypes: [{ InstanceType: 'trn2u.48xlarge' as _InstanceType, VCpuInfo: { DefaultVCpus: 192, DefaultCores: 96 } }],
    });

    const { json } = await runJson<QuotaReport>(['quota']);

    expect(ec2).toHaveReceivedCommandWith(DescribeInstanceTypesCommand, { InstanceTypes: ['trn2u.48xlarge'] });
    expect(json.usage.inUseVcpus).toBe(192);
  });

  test('GIVEN only catalogued types running WHEN counted THEN DescribeInstanceTypes is not called', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(16));
    ec2.on(DescribeInstancesCommand).resolves(instancesPage([instance('i-1', 'trn1.2xlarge', 'spot')]));

    await runCli(['quota']);

    expect(ec2).not.toHaveReceivedCommand(DescribeInstanceTypesCommand);
  });

  test('GIVEN instances on two pages WHEN quota runs THEN both pages count and the second is asked with the token', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(32));
    ec2
      .on(DescribeInstancesCommand)
      .resolvesOnce(instancesPage([instance('i-1', 'trn1.2xlarge', 'spot')], 'page-2'))
      .resolvesOnce(instancesPage([instance('i-2', 'trn1.2xlarge', 'spot')]));

    const { json } = await runJson<QuotaReport>(['quota']);

    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 2);
    expect(ec2).toHaveReceivedNthSpecificCommandWith(2, DescribeInstancesCommand, { NextToken: 'page-2' });
    expect(json.usage.inUseVcpus).toBe(16);
    expect(json.additionalInstancesThatFit).toBe(2);
  });

  test('GIVEN --count 3 WHEN two more fit THEN it does not fit and asks for in use + 3 instances', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(24));
    ec2.on(DescribeInstancesCommand).resolves(instancesPage([instance('i-1', 'trn1.2xlarge', 'spot')]));

    const { code, json } = await runJson<QuotaReport>(['quota', '--count', '3']);

    expect(code).toBe(1);
    expect(json.neededVcpus).toBe(24);
    expect(json.additionalInstancesThatFit).toBe(2);
    expect(json.increase?.desiredVcpus).toBe(32);
  });

  test('GIVEN --region WHEN AWS_REGION is set too THEN the flag wins', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(16));
    ec2.on(DescribeInstancesCommand).resolves(instancesPage([]));

    const { json } = await runJson<QuotaReport>(['quota', '--region', 'us-west-2'], { env: { AWS_REGION: 'us-east-1' } });

    expect(json.region).toBe('us-west-2');
    await expect((quotas.call(0).thisValue as ServiceQuotasClient).config.region()).resolves.toBe('us-west-2');
    await expect((ec2.call(0).thisValue as EC2Client).config.region()).resolves.toBe('us-west-2');
  });

  test('GIVEN a region the catalog does not list WHEN the quota exists there THEN the report notes it', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(0));
    ec2.on(DescribeInstancesCommand).resolves(instancesPage([]));

    const run = await runCli(['quota', '--region', 'eu-west-1']);

    expect(run.stdout).toContain('the catalog does not list trn1.2xlarge in eu-west-1; it lists us-east-1, us-east-2, us-west-2');
  });

  test('fails when the quota does not exist in the region, naming the regions that offer the type', async () => {
    quotas.on(GetServiceQuotaCommand).rejects(noSuchResource());
    quotas.on(GetAWSDefaultServiceQuotaCommand).rejects(noSuchResource());
    ec2.on(DescribeInstancesCommand).resolves(instancesPage([]));

    const run = await runCli(['quota', '--region', 'af-south-1']);

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expectOneLine(run.stderr);
    expect(run.stderr).toBe(
      'trainium-spot: trn1.2xlarge is not offered in af-south-1: Service Quotas has no "All Trn Spot Instance Requests" ' +
        '(L-6B0D517C) there; regions that offer trn1.2xlarge: us-east-1, us-east-2, us-west-2\n',
    );
  });

  test('fails when the instance type is not in the catalog', async () => {
    const run = await runCli(['quota', '--instance-type', 'trn9.xlarge']);

    expect(run.code).toBe(2);
    expectOneLine(run.stderr);
    expect(run.stderr).toContain('--instance-type "trn9.xlarge" is not valid; expected an instance type from the catalog: trn1.2xlarge,');
    expect(quotas).not.toHaveReceivedAnyCommand();
  });

  test('fails when --market is neither spot nor on-demand', async () => {
    const run = await runCli(['quota', '--market', 'capacity-block']);

    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `trainium-spot: quota: --market "capacity-block" is not valid; expected one of spot, on-demand (see 'trainium-spot help quota')\n`,
    );
  });

  test('fails when --count is not a whole number of at least 1', async () => {
    const run = await runCli(['quota', '--count', '0']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--count "0" is not valid; expected a whole number of at least 1');
  });
});

// ---------------------------------------------------------------------------------------------
// quota --request / --status
// ---------------------------------------------------------------------------------------------

describe('quota --request', () => {
  test('GIVEN quota 8 WHEN --request 16 THEN the increase is filed for the spot quota and the request is shown', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(8));
    quotas.on(RequestServiceQuotaIncreaseCommand).resolves({
      RequestedQuota: { Id: 'req-1', Status: 'PENDING', DesiredValue: 16, Created: new Date('2025-06-01T10:00:00Z') },
    });

    const run = await runCli(['quota', '--request', '16']);

    expect(run.code).toBe(0);
    expect(quotas).toHaveReceivedCommandWith(RequestServiceQuotaIncreaseCommand, {
      ServiceCode: 'ec2',
      QuotaCode: TRN_SPOT.code,
      DesiredValue: 16,
    });
    expect(run.stdout).toContain('Requested 16 vCPUs for "All Trn Spot Instance Requests" (L-6B0D517C) in us-east-2, now 8.');
    expect(run.stdout).toContain('Request ID  req-1');
    expect(run.stdout).toContain('Status      PENDING - under review by AWS');
  });

  test('GIVEN --output json WHEN the request is filed THEN the document holds the quota before and the request', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(8));
    quotas.on(RequestServiceQuotaIncreaseCommand).resolves({
      RequestedQuota: { Id: 'req-1', Status: 'PENDING', DesiredValue: 16, Created: new Date('2025-06-01T10:00:00Z') },
    });

    const { json } = await runJson<QuotaRequestReport>(['quota', '--request', '16']);

    expect(json).toEqual<QuotaRequestReport>({
      schemaVersion: 1,
      command: 'quota-request',
      region: TEST_REGION,
      instanceType: 'trn1.2xlarge',
      market: 'spot',
      quota: { serviceCode: 'ec2', code: 'L-6B0D517C', name: 'All Trn Spot Instance Requests', valueVcpus: 8, source: 'applied' },
      request: {
        id: 'req-1',
        status: 'PENDING',
        desiredVcpus: 16,
        caseId: null,
        created: '2025-06-01T10:00:00.000Z',
        lastUpdated: null,
      },
    });
  });

  test('fails when the requested value would not raise the quota', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(16));

    const run = await runCli(['quota', '--request', '16']);

    expect(run.code).toBe(2);
    expectOneLine(run.stderr);
    expect(run.stderr).toContain('--request 16 would not raise "All Trn Spot Instance Requests": it is already 16 vCPUs in us-east-2');
    expect(quotas).not.toHaveReceivedCommand(RequestServiceQuotaIncreaseCommand);
  });

  test('fails when a request for the quota is already open, pointing at --status', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(0));
    quotas
      .on(RequestServiceQuotaIncreaseCommand)
      .rejects(new ResourceAlreadyExistsException({ message: 'already exists', $metadata: {} }));

    const run = await runCli(['quota', '--request', '8']);

    expect(run.code).toBe(2);
    expectOneLine(run.stderr);
    expect(run.stderr).toContain('a request to raise "All Trn Spot Instance Requests" in us-east-2 is already open');
    expect(run.stderr).toContain('trainium-spot quota --status --instance-type trn1.2xlarge --market spot --region us-east-2');
  });

  test('fails when --request and --status are given together', async () => {
    const run = await runCli(['quota', '--request', '16', '--status']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--request and --status cannot be used together');
  });

  test('fails when --request is not a whole number', async () => {
    const run = await runCli(['quota', '--request', 'lots']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--request "lots" is not valid; expected a whole number of at least 1');
  });
});

describe('quota --status', () => {
  const history = [
    { Id: 'old', Status: 'DENIED' as const, DesiredValue: 256, Created: new Date('2025-01-01T00:00:00Z') },
    { Id: 'new', Status: 'CASE_OPENED' as const, DesiredValue: 16, CaseId: 'case-9', Created: new Date('2025-06-01T00:00:00Z') },
  ];

  test('GIVEN requests on two pages WHEN --status THEN all are listed newest first with what the latest status means', async () => {
    quotas
      .on(ListRequestedServiceQuotaChangeHistoryByQuotaCommand)
      .resolvesOnce({ RequestedQuotas: [history[0]], NextToken: 'p2' })
      .resolvesOnce({ RequestedQuotas: [history[1]] });

    const run = await runCli(['quota', '--status']);

    expect(run.code).toBe(0);
    expect(quotas).toHaveReceivedNthSpecificCommandWith(1, ListRequestedServiceQuotaChangeHistoryByQuotaCommand, {
      ServiceCode: 'ec2',
      QuotaCode: TRN_SPOT.code,
    });
    expect(quotas).toHaveReceivedNthSpecificCommandWith(2, ListRequestedServiceQuotaChangeHistoryByQuotaCommand, { NextToken: 'p2' });
    expect(run.stdout.indexOf('CASE_OPENED')).toBeLessThan(run.stdout.indexOf('DENIED'));
    expect(run.stdout).toContain('Latest: CASE_OPENED - AWS Support opened a case');
  });

  test('GIVEN --output json WHEN --status THEN requests are rows, newest first', async () => {
    quotas.on(ListRequestedServiceQuotaChangeHistoryByQuotaCommand).resolves({ RequestedQuotas: history });

    const { json } = await runJson<QuotaStatusReport>(['quota', '--status']);

    expect(json.command).toBe('quota-status');
    expect(json.quota).toEqual({ code: 'L-6B0D517C', name: 'All Trn Spot Instance Requests' });
    expect(json.requests).toEqual([
      { id: 'new', status: 'CASE_OPENED', desiredVcpus: 16, caseId: 'case-9', created: '2025-06-01T00:00:00.000Z', lastUpdated: null },
      { id: 'old', status: 'DENIED', desiredVcpus: 256, caseId: null, created: '2025-01-01T00:00:00.000Z', lastUpdated: null },
    ]);
  });

  test('GIVEN no requests WHEN --status THEN it says so and how to file one', async () => {
    quotas.on(ListRequestedServiceQuotaChangeHistoryByQuotaCommand).resolves({ RequestedQuotas: [] });

    const run = await runCli(['quota', '--status', '--market', 'on-demand']);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('No increase requests for "Running On-Demand Trn instances" (L-2C3B7624) in us-east-2.');
  });

  test('fails when --count is given with --status', async () => {
    const run = await runCli(['quota', '--status', '--count', '2']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--count cannot be used with --status');
  });
});

// ---------------------------------------------------------------------------------------------
// --cluster: the cluster's compute nodes
// ---------------------------------------------------------------------------------------------

describe('quota --cluster', () => {
  const withCluster = (cluster: object): Record<string, string> => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'quota-cluster-')), 'config.json');
    fs.writeFileSync(file, JSON.stringify({ cluster }));
    return { AWS_REGION: TEST_REGION, TRAINIUM_SPOT_CONFIG: file };
  };

  test('GIVEN 4 spot trn1.32xlarge nodes and 384 spot vCPUs WHEN quota --cluster THEN 512 are needed and it does not fit', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(384));
    ec2.on(DescribeInstancesCommand).resolves(instancesPage([]));

    const { code, json } = await runJson<QuotaReport>(['quota', '--cluster'], { env: withCluster({ nodes: 4 }) });

    expect(code).toBe(1);
    expect(quotas).toHaveReceivedCommandWith(GetServiceQuotaCommand, { ServiceCode: 'ec2', QuotaCode: TRN_SPOT.code });
    expect(json).toMatchObject({ instanceType: 'trn1.32xlarge', market: 'spot', instancesWanted: 4, neededVcpus: 512, verdict: 'does-not-fit' });
  });

  test('GIVEN on-demand nodes WHEN quota --cluster THEN the on-demand quota is read for every node', async () => {
    quotas.on(GetServiceQuotaCommand).resolves(appliedQuota(1024, TRN_ON_DEMAND));
    ec2.on(DescribeInstancesCommand).resolves(instancesPage([]));

    const { code, json } = await runJson<QuotaReport>(['quota', '--cluster'], { env: withCluster({ nodes: 2, market: 'on-demand' }) });

    expect(code).toBe(0);
    expect(quotas).toHaveReceivedCommandWith(GetServiceQuotaCommand, { ServiceCode: 'ec2', QuotaCode: TRN_ON_DEMAND.code });
    expect(json).toMatchObject({ instancesWanted: 2, neededVcpus: 256, verdict: 'fits' });
  });

  test('fails when the nodes are a Capacity Block and no --market names a quota: one line, exit 2, no AWS call', async () => {
    const run = await runCli(['quota', '--cluster'], { env: withCluster({ market: 'capacity-block', capacityReservationId: 'cr-0123456789abcdef0' }) });

    expect(run.code).toBe(2);
    expectOneLine(run.stderr);
    expect(run.stderr).toContain('--cluster: cluster.market "capacity-block" draws on no vCPU quota; give --market spot or on-demand to check one');
    expect(quotas).not.toHaveReceivedAnyCommand();
  });

  test('fails when the configuration has no cluster: one line, exit 2', async () => {
    const run = await runCli(['quota', '--cluster']);
    expect(run.code).toBe(2);
    expectOneLine(run.stderr);
    expect(run.stderr).toContain('--cluster: the configuration has no cluster key');
  });
});
