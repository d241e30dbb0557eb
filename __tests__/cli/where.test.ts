import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DescribeAvailabilityZonesCommand,
  DescribeCapacityBlockOfferingsCommand,
  DescribeCapacityReservationsCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeSpotPriceHistoryCommand,
  EC2Client,
  GetSpotPlacementScoresCommand,
  SpotPrice,
} from '@aws-sdk/client-ec2';
import { GetServiceQuotaCommand, ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { WhereReport } from '../../src/cli/report';
import { awsError, expectOneLine, runCli, runJson } from './cli-test-helpers';

const ec2 = mockClient(EC2Client);
const quotas = mockClient(ServiceQuotasClient);

/** A small world: two regions offer trn1.2xlarge, one does not. */
const ZONES: Record<string, { ZoneName: string; ZoneId: string }[]> = {
  'us-east-1': [{ ZoneName: 'us-east-1a', ZoneId: 'use1-az6' }, { ZoneName: 'us-east-1b', ZoneId: 'use1-az5' }],
  'us-east-2': [{ ZoneName: 'us-east-2c', ZoneId: 'use2-az3' }],
  'eu-west-1': [{ ZoneName: 'eu-west-1a', ZoneId: 'euw1-az1' }],
};
const OFFERED: Record<string, string[]> = { 'us-east-1': ['use1-az5', 'use1-az6'], 'us-east-2': ['use2-az3'], 'eu-west-1': [] };
const SPOT_PRICES: Record<string, SpotPrice[]> = {
  'us-east-1': [
    { AvailabilityZone: 'us-east-1a', SpotPrice: '0.5000', Timestamp: new Date('2026-12-01T10:00:00Z') },
    { AvailabilityZone: 'us-east-1a', SpotPrice: '0.6000', Timestamp: new Date('2026-11-30T22:00:00Z') },
    { AvailabilityZone: 'us-east-1b', SpotPrice: '0.4000', Timestamp: new Date('2026-12-01T09:00:00Z') },
  ],
  'us-east-2': [{ AvailabilityZone: 'us-east-2c', SpotPrice: '0.4500', Timestamp: new Date('2026-12-01T08:00:00Z') }],
};
/** Applied quota values per region and quota code. */
let quotaValues: Record<string, Record<string, number>>;

const regionOf = async (getClient: () => { config: { region: () => Promise<string> } }) => getClient().config.region();

beforeEach(() => {
  ec2.reset();
  quotas.reset();
  quotaValues = {
    'us-east-1': { 'L-6B0D517C': 32, 'L-2C3B7624': 0 },
    'us-east-2': { 'L-6B0D517C': 8, 'L-2C3B7624': 16 },
  };
  ec2.on(GetSpotPlacementScoresCommand).resolves({
    SpotPlacementScores: [
      { Region: 'us-east-1', AvailabilityZoneId: 'use1-az6', Score: 3 },
      { Region: 'us-east-1', AvailabilityZoneId: 'use1-az5', Score: 7 },
      { Region: 'us-east-2', AvailabilityZoneId: 'use2-az3', Score: 9 },
    ],
  });
  ec2.on(DescribeInstanceTypeOfferingsCommand).callsFake(async (_input, getClient) => ({
    InstanceTypeOfferings: (OFFERED[await regionOf(getClient)] ?? []).map((Location) => ({ Location, InstanceType: 'trn1.2xlarge' })),
  }));
  ec2.on(DescribeAvailabilityZonesCommand).callsFake(async (_input, getClient) => ({ AvailabilityZones: ZONES[await regionOf(getClient)] }));
  ec2.on(DescribeSpotPriceHistoryCommand).callsFake(async (_input, getClient) => ({ SpotPriceHistory: SPOT_PRICES[await regionOf(getClient)] ?? [] }));
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  quotas.on(GetServiceQuotaCommand).callsFake(async (input, getClient) => {
    const value = quotaValues[await regionOf(getClient)]?.[input.QuotaCode];
    if (value === undefined) throw awsError('NoSuchResourceException', 'The request failed because the specified service quota does not exist.');
    return { Quota: { QuotaCode: input.QuotaCode, Value: value } };
  });
});

const ALL = ['where', '--regions', 'us-east-1,us-east-2,eu-west-1'];

describe('where', () => {
  test('GIVEN scores, prices and quotas in three regions WHEN where runs THEN every offering AZ is ranked, best first', async () => {
    // WHEN
    const { code, json } = await runJson<WhereReport>(ALL);
    // THEN
    expect(code).toBe(0);
    expect(json).toMatchObject({ command: 'where', instanceType: 'trn1.2xlarge', instanceCount: 1, vcpusNeeded: 8 });
    expect(json.zones.map((z) => [z.rank, z.region, z.availabilityZoneId, z.placementScore])).toEqual([
      [1, 'us-east-2', 'use2-az3', 9],
      [2, 'us-east-1', 'use1-az5', 7],
      [3, 'us-east-1', 'use1-az6', 3],
    ]);
    expect(json.zones[2]).toEqual({
      rank: 3,
      region: 'us-east-1',
      availabilityZoneId: 'use1-az6',
      availabilityZone: 'us-east-1a',
      placementScore: 3,
      spotPrice: { nowPerHour: 0.5, since: '2026-12-01T10:00:00.000Z', minPerHour24h: 0.5, maxPerHour24h: 0.6 },
      spotQuota: { code: 'L-6B0D517C', name: 'All Trn Spot Instance Requests', valueVcpus: 32, inUseVcpus: 0, freeVcpus: 32, fits: true },
      onDemandQuota: { code: 'L-2C3B7624', name: 'Running On-Demand Trn instances', valueVcpus: 0, inUseVcpus: 0, freeVcpus: 0, fits: false },
      capacityBlocks: null,
    });
    expect(json.regionsWithoutType).toEqual(['eu-west-1']);
    expect(json.config).toEqual({ region: 'us-east-2', availabilityZoneId: 'use2-az3' });
  });

  test('asks for single-AZ placement scores with the vCPUs of all the boxes as target capacity, in one call', async () => {
    // WHEN
    await runJson<WhereReport>([...ALL, '--count', '2']);
    // THEN
    expect(ec2).toHaveReceivedCommandTimes(GetSpotPlacementScoresCommand, 1);
    expect(ec2).toHaveReceivedCommandWith(GetSpotPlacementScoresCommand, {
      InstanceTypes: ['trn1.2xlarge'],
      TargetCapacity: 16,
      TargetCapacityUnitType: 'vcpu',
      SingleAvailabilityZone: true,
      RegionNames: ['us-east-1', 'us-east-2', 'eu-west-1'],
    });
  });

  test('GIVEN a spot quota too small for two boxes in the best-scored region THEN that region ranks below one that holds them', async () => {
    // WHEN
    const { json } = await runJson<WhereReport>([...ALL, '--count', '2']);
    // THEN
    expect(json.zones.map((z) => [z.availabilityZoneId, z.spotQuota.fits])).toEqual([
      ['use1-az5', true], ['use1-az6', true], ['use2-az3', false],
    ]);
    expect(json.config).toEqual({ region: 'us-east-1', availabilityZoneId: 'use1-az5' });
  });

  test('GIVEN equal scores THEN the cheaper AZ ranks first', async () => {
    // GIVEN
    ec2.on(GetSpotPlacementScoresCommand).resolves({
      SpotPlacementScores: [
        { Region: 'us-east-1', AvailabilityZoneId: 'use1-az6', Score: 5 },
        { Region: 'us-east-1', AvailabilityZoneId: 'use1-az5', Score: 5 },
      ],
    });
    // WHEN
    const { json } = await runJson<WhereReport>(['where', '--region', 'us-east-1']);
    // THEN
    expect(json.zones.map((z) => [z.availabilityZoneId, z.spotPrice?.nowPerHour])).toEqual([['use1-az5', 0.4], ['use1-az6', 0.5]]);
  });

  test('asks nothing more of a region that does not offer the type', async () => {
    // WHEN
    await runJson<WhereReport>(ALL);
    // THEN
    const regionsAsked = await Promise.all(quotas.commandCalls(GetServiceQuotaCommand).map((call) => call.thisValue.config.region()));
    expect(new Set(regionsAsked)).toEqual(new Set(['us-east-1', 'us-east-2']));
    expect(ec2).not.toHaveReceivedCommand(DescribeCapacityBlockOfferingsCommand);
  });

  test('prints the table and the exact config lines for the best AZ', async () => {
    // WHEN
    const run = await runCli(ALL);
    // THEN
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('|    1 | us-east-2 | use2-az3 | us-east-2c |     9 | $0.4500  | $0.4500 | $0.4500 | 8 of 8          | 16 of 16         |');
    expect(run.stdout).toContain('Not offered in: eu-west-1\n');
    expect(run.stdout.endsWith(
      'To launch in the best AZ, set in cdktf.json context.trainiumSpot or your TRAINIUM_SPOT_CONFIG file:\n' +
      '  "region": "us-east-2",\n' +
      '  "availabilityZoneId": "use2-az3"\n',
    )).toBe(true);
  });

  test('GIVEN a type sold as Capacity Blocks THEN the offerings are counted per AZ ID', async () => {
    // GIVEN
    ec2.on(DescribeCapacityBlockOfferingsCommand).callsFake(async (_input, getClient) => (await regionOf(getClient)) === 'us-east-1'
      ? {
          CapacityBlockOfferings: [
            { CapacityBlockOfferingId: 'cb-2', AvailabilityZone: 'us-east-1b', InstanceCount: 1, StartDate: new Date('2026-12-09T11:30:00Z') },
            { CapacityBlockOfferingId: 'cb-1', AvailabilityZone: 'us-east-1b', InstanceCount: 1, StartDate: new Date('2026-12-03T11:30:00Z') },
          ],
        }
      : { CapacityBlockOfferings: [] });
    // WHEN
    const { json } = await runJson<WhereReport>(['where', '--instance-type', 'trn1.32xlarge', '--regions', 'us-east-1,us-east-2']);
    // THEN
    expect(json.capacityBlockHours).toBe(24);
    expect(Object.fromEntries(json.zones.map((z) => [z.availabilityZoneId, z.capacityBlocks]))).toEqual({
      'use1-az5': { offerings: 2, earliestStart: '2026-12-03T11:30:00.000Z' },
      'use1-az6': { offerings: 0, earliestStart: null },
      'use2-az3': { offerings: 0, earliestStart: null },
    });
    expect(ec2).toHaveReceivedCommandWith(DescribeCapacityBlockOfferingsCommand, {
      InstanceType: 'trn1.32xlarge', InstanceCount: 1, CapacityDurationHours: 24,
    });
  });

  test('GIVEN no region offers the type THEN it says so and gives no config', async () => {
    // WHEN
    const { json } = await runJson<WhereReport>(['where', '--region', 'eu-west-1']);
    const text = await runCli(['where', '--region', 'eu-west-1']);
    // THEN
    expect(json.zones).toEqual([]);
    expect(json.config).toBeNull();
    expect(text.stdout).toBe('No AZ in eu-west-1 offers trn1.2xlarge.\nNot offered in: eu-west-1\n');
  });

  test('fails when the caller may not get placement scores: exit 2, one line naming the permission', async () => {
    // GIVEN
    ec2.on(GetSpotPlacementScoresCommand).rejects(awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.'));
    // WHEN
    const run = await runCli(ALL);
    // THEN
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expectOneLine(run.stderr);
    expect(run.stderr).toBe(
      'trainium-spot: access denied: your credentials may not call ec2:GetSpotPlacementScores in us-east-1 ' +
        '(UnauthorizedOperation); allow the IAM action ec2:GetSpotPlacementScores for your user or role\n',
    );
  });

  test('fails when a quota cannot be read: one line naming servicequotas:GetServiceQuota and the region', async () => {
    // GIVEN
    quotas.on(GetServiceQuotaCommand).rejects(awsError('AccessDeniedException'));
    // WHEN
    const run = await runCli(['where', '--region', 'us-east-2']);
    // THEN
    expect(run.code).toBe(2);
    expectOneLine(run.stderr);
    expect(run.stderr).toContain('may not call servicequotas:GetServiceQuota in us-east-2');
  });

  test('fails when --count is not a whole number of at least 1', async () => {
    const run = await runCli(['where', '--count', '0']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`trainium-spot: where: --count "0" is not valid; expected a whole number of at least 1 (see 'trainium-spot help where')\n`);
  });
});

// ---------------------------------------------------------------------------------------------
// --cluster: the cluster's nodes
// ---------------------------------------------------------------------------------------------

describe('where --cluster', () => {
  /** The environment of a run whose config file holds `cluster`. */
  const withCluster = (cluster: object | undefined): Record<string, string> => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'where-cluster-')), 'config.json');
    fs.writeFileSync(file, JSON.stringify(cluster === undefined ? {} : { cluster }));
    return { AWS_REGION: 'us-east-2', TRAINIUM_SPOT_CONFIG: file };
  };

  beforeEach(() => ec2.on(DescribeCapacityBlockOfferingsCommand).resolves({ CapacityBlockOfferings: [] }));

  test('GIVEN a cluster of 3 trn1.32xlarge nodes WHEN where --cluster THEN placement scores are asked for all 3 nodes in one AZ (384 vCPUs)', async () => {
    // WHEN
    const { code, json } = await runJson<WhereReport>(['where', '--cluster', '--regions', 'us-east-1,us-east-2'], { env: withCluster({ nodes: 3 }) });
    // THEN
    expect(code).toBe(0);
    expect(json).toMatchObject({ instanceType: 'trn1.32xlarge', instanceCount: 3, vcpusNeeded: 384 });
    expect(json.cluster).toEqual({
      name: 'trainium-spot', instanceType: 'trn1.32xlarge', nodes: 3, market: 'spot',
      capacityReservationId: null, reservation: null, reservationHoldsNodes: null,
    });
    expect(ec2).toHaveReceivedCommandWith(GetSpotPlacementScoresCommand, { InstanceTypes: ['trn1.32xlarge'], TargetCapacity: 384, SingleAvailabilityZone: true });
    expect(ec2).not.toHaveReceivedCommand(DescribeCapacityReservationsCommand);
  });

  test('GIVEN a capacity-block cluster WHEN where --cluster THEN the first line names its block, where it is, and that it holds the nodes', async () => {
    // GIVEN
    ec2.on(DescribeCapacityReservationsCommand).resolves({ CapacityReservations: [{
      CapacityReservationId: 'cr-0123456789abcdef0', ReservationType: 'capacity-block', InstanceType: 'trn1.32xlarge',
      AvailabilityZone: 'us-east-2c', AvailabilityZoneId: 'use2-az3', TotalInstanceCount: 4, AvailableInstanceCount: 4, State: 'scheduled',
      StartDate: new Date('2026-12-10T11:30:00Z'), EndDate: new Date('2026-12-12T11:30:00Z'),
    }] });
    // WHEN
    const run = await runCli(['where', '--cluster', '--region', 'us-east-2'],
      { env: withCluster({ nodes: 4, market: 'capacity-block', capacityReservationId: 'cr-0123456789abcdef0' }) });
    // THEN
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n').slice(0, 2)).toEqual([
      'Cluster trainium-spot: up to 4 trn1.32xlarge nodes, market capacity-block: the nodes launch in Capacity Block cr-0123456789abcdef0, ' +
        'scheduled, 4 trn1.32xlarge instances in us-east-2c (use2-az3), 2026-12-10T11:30:00Z to 2026-12-12T11:30:00Z; it holds all the nodes.',
      '(The ranking below is for the other markets.)',
    ]);
    expect(ec2).toHaveReceivedCommandWith(DescribeCapacityReservationsCommand, { CapacityReservationIds: ['cr-0123456789abcdef0'] });
  });

  test('GIVEN a capacity-block cluster whose block is too small WHEN where --cluster --output json THEN reservationHoldsNodes is false', async () => {
    ec2.on(DescribeCapacityReservationsCommand).resolves({ CapacityReservations: [{
      CapacityReservationId: 'cr-0123456789abcdef0', ReservationType: 'capacity-block', InstanceType: 'trn1.32xlarge', TotalInstanceCount: 2, State: 'active',
    }] });

    const { json } = await runJson<WhereReport>(['where', '--cluster', '--region', 'us-east-2'],
      { env: withCluster({ nodes: 4, market: 'capacity-block', capacityReservationId: 'cr-0123456789abcdef0' }) });

    expect(json.cluster).toMatchObject({ capacityReservationId: 'cr-0123456789abcdef0', reservationHoldsNodes: false, reservation: { totalInstances: 2 } });
  });

  test('fails when the configuration has no cluster: one line, exit 2, AWS never asked', async () => {
    const run = await runCli(['where', '--cluster'], { env: withCluster(undefined) });

    expect(run.code).toBe(2);
    expectOneLine(run.stderr);
    expect(run.stderr).toBe('trainium-spot: where: the configuration has no cluster key; add "cluster": { "nodes": 2 } to it (README, "Cluster") ' +
      "(see 'trainium-spot help where')\n");
    expect(ec2).not.toHaveReceivedAnyCommand();
  });
});
