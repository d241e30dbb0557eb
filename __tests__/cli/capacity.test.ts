import {
  CapacityReservation,
  DescribeCapacityBlockOfferingsCommand,
  DescribeCapacityReservationsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { CapacityOfferingsReport, CapacityReport } from '../../src/cli/report';
import { awsError, expectOneLine, runCli, runJson } from './cli-test-helpers';

const ec2 = mockClient(EC2Client);

const block = (id: string, region: string, extra: Partial<CapacityReservation> = {}): CapacityReservation =>
  ({
    CapacityReservationId: id,
    ReservationType: 'capacity-block',
    CapacityBlockId: `cb-${id}`,
    InstanceType: 'trn1.32xlarge',
    InstancePlatform: 'Linux/UNIX',
    AvailabilityZone: `${region}a`,
    AvailabilityZoneId: 'use1-az6',
    TotalInstanceCount: 4,
    AvailableInstanceCount: 4,
    State: 'scheduled',
    StartDate: new Date('2025-07-01T11:30:00Z'),
    EndDate: new Date('2025-07-08T11:30:00Z'),
    ...extra,
  }) as CapacityReservation;

const odcr = (id: string, region: string, extra: Partial<CapacityReservation> = {}): CapacityReservation =>
  ({
    CapacityReservationId: id,
    ReservationType: 'default',
    InstanceType: 'inf2.xlarge',
    InstancePlatform: 'Linux/UNIX',
    AvailabilityZone: `${region}b`,
    AvailabilityZoneId: 'use2-az2',
    TotalInstanceCount: 10,
    AvailableInstanceCount: 4,
    State: 'active',
    StartDate: new Date('2025-01-01T00:00:00Z'),
    ...extra,
  }) as CapacityReservation;

/** Answers DescribeCapacityReservations with the reservations of the client's region. */
function reservationsByRegion(byRegion: Record<string, CapacityReservation[]>): void {
  ec2.on(DescribeCapacityReservationsCommand).callsFake(async (_input, getClient) => ({
    CapacityReservations: byRegion[await getClient().config.region()] ?? [],
  }));
}

beforeEach(() => ec2.reset());

describe('capacity', () => {
  test('GIVEN a Capacity Block and an ODCR WHEN capacity runs THEN both are listed with the summary lines', async () => {
    reservationsByRegion({ 'us-east-2': [block('cr-b1', 'us-east-2'), odcr('cr-o1', 'us-east-2')] });

    const run = await runCli(['capacity']);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Capacity Block summary:');
    expect(run.stdout).toContain('   Total blocks: 1');
    expect(run.stdout).toContain('   Instance types: 1 (trn1.32xlarge)');
    expect(run.stdout).toContain('   Duration range: 168 hours (7 days)');
    expect(run.stdout).toContain('Capacity Reservation summary (ODCRs):');
    expect(run.stdout).toContain('   Total reservations: 1');
    expect(run.stdout).toContain('   Total capacity: 10 instances');
    expect(run.stdout).toContain('   Available: 4 instances (40% free)');
    expect(run.stdout).toMatch(/\| inf2\.xlarge +\| us-east-2 +\| us-east-2b +\| use2-az2 +\| +10 \| +4 \| +6 \| active +\| no end date +\| cr-o1 +\|/);
  });

  test('GIVEN --output json WHEN capacity runs THEN the document splits blocks from ODCRs with summaries', async () => {
    reservationsByRegion({ 'us-east-2': [block('cr-b1', 'us-east-2'), odcr('cr-o1', 'us-east-2')] });

    const { code, json } = await runJson<CapacityReport>(['capacity']);

    expect(code).toBe(0);
    expect(json).toEqual<CapacityReport>({
      schemaVersion: 1,
      command: 'capacity',
      regions: ['us-east-2'],
      filters: { instanceTypes: null, availableOnly: false, minCapacity: null, activeOnly: false },
      cluster: null,
      capacityBlocks: {
        summary: {
          reservations: 1,
          instanceTypes: ['trn1.32xlarge'],
          totalInstances: 4,
          availableInstances: 4,
          freePercent: 100,
          durationHours: { min: 168, max: 168 },
        },
        reservations: [
          {
            id: 'cr-b1',
            kind: 'capacity-block',
            capacityBlockId: 'cb-cr-b1',
            region: 'us-east-2',
            availabilityZone: 'us-east-2a',
            availabilityZoneId: 'use1-az6',
            instanceType: 'trn1.32xlarge',
            platform: 'Linux/UNIX',
            state: 'scheduled',
            totalInstances: 4,
            availableInstances: 4,
            usedInstances: 0,
            startDate: '2025-07-01T11:30:00.000Z',
            endDate: '2025-07-08T11:30:00.000Z',
            durationHours: 168,
          },
        ],
      },
      odcrs: {
        summary: {
          reservations: 1,
          instanceTypes: ['inf2.xlarge'],
          totalInstances: 10,
          availableInstances: 4,
          freePercent: 40,
          durationHours: null,
        },
        reservations: [
          {
            id: 'cr-o1',
            kind: 'odcr',
            capacityBlockId: null,
            region: 'us-east-2',
            availabilityZone: 'us-east-2b',
            availabilityZoneId: 'use2-az2',
            instanceType: 'inf2.xlarge',
            platform: 'Linux/UNIX',
            state: 'active',
            totalInstances: 10,
            availableInstances: 4,
            usedInstances: 6,
            startDate: '2025-01-01T00:00:00.000Z',
            endDate: null,
            durationHours: null,
          },
        ],
      },
    });
  });

  test('GIVEN two regions WHEN capacity runs THEN each region is asked and the results are aggregated', async () => {
    reservationsByRegion({
      'us-east-1': [block('cr-east', 'us-east-1', { TotalInstanceCount: 8, AvailableInstanceCount: 2 })],
      'us-west-2': [block('cr-west', 'us-west-2', { EndDate: new Date('2025-07-15T11:30:00Z') })],
    });

    const { json } = await runJson<CapacityReport>(['capacity', '--blocks', '--regions', 'us-west-2,us-east-1']);

    expect(ec2).toHaveReceivedCommandTimes(DescribeCapacityReservationsCommand, 2);
    expect(json.regions).toEqual(['us-west-2', 'us-east-1']);
    expect(json.odcrs).toBeNull();
    expect(json.capacityBlocks?.reservations.map((r) => [r.id, r.region])).toEqual([
      ['cr-east', 'us-east-1'],
      ['cr-west', 'us-west-2'],
    ]);
    expect(json.capacityBlocks?.summary).toMatchObject({
      reservations: 2,
      totalInstances: 12,
      availableInstances: 6,
      freePercent: 50,
      durationHours: { min: 168, max: 336 },
    });
  });

  test('GIVEN reservations on two pages WHEN capacity runs THEN both pages are listed', async () => {
    ec2
      .on(DescribeCapacityReservationsCommand)
      .resolvesOnce({ CapacityReservations: [odcr('cr-1', 'us-east-2')], NextToken: 'next' })
      .resolvesOnce({ CapacityReservations: [odcr('cr-2', 'us-east-2')] });

    const { json } = await runJson<CapacityReport>(['capacity', '--odcr']);

    expect(ec2).toHaveReceivedNthSpecificCommandWith(2, DescribeCapacityReservationsCommand, { NextToken: 'next' });
    expect(json.capacityBlocks).toBeNull();
    expect(json.odcrs?.reservations.map((r) => r.id)).toEqual(['cr-1', 'cr-2']);
  });

  test('GIVEN --instance-types WHEN capacity runs THEN EC2 is asked for those types only', async () => {
    reservationsByRegion({});

    const { json } = await runJson<CapacityReport>(['capacity', '--instance-types', 'p5.48xlarge, trn1.32xlarge']);

    expect(ec2).toHaveReceivedCommandWith(DescribeCapacityReservationsCommand, {
      Filters: [{ Name: 'instance-type', Values: ['p5.48xlarge', 'trn1.32xlarge'] }],
    });
    expect(json.filters.instanceTypes).toEqual(['p5.48xlarge', 'trn1.32xlarge']);
  });

  test('GIVEN --available-only WHEN a reservation is full THEN it is left out', async () => {
    reservationsByRegion({ 'us-east-2': [odcr('cr-full', 'us-east-2', { AvailableInstanceCount: 0 }), odcr('cr-free', 'us-east-2')] });

    const { json } = await runJson<CapacityReport>(['capacity', '--odcr', '--available-only']);

    expect(json.odcrs?.reservations.map((r) => r.id)).toEqual(['cr-free']);
  });

  test('GIVEN --min-capacity 5 WHEN reservations have 4 and 6 free THEN only the one with 6 is listed', async () => {
    reservationsByRegion({
      'us-east-2': [odcr('cr-4', 'us-east-2'), odcr('cr-6', 'us-east-2', { AvailableInstanceCount: 6 })],
    });

    const { json } = await runJson<CapacityReport>(['capacity', '--min-capacity', '5']);

    expect(json.odcrs?.reservations.map((r) => r.id)).toEqual(['cr-6']);
    expect(json.filters.minCapacity).toBe(5);
  });

  test('GIVEN --active-only WHEN blocks are active, scheduled and expired THEN the expired one is left out', async () => {
    reservationsByRegion({
      'us-east-2': [
        block('cr-a', 'us-east-2', { State: 'active' }),
        block('cr-s', 'us-east-2', { State: 'scheduled' }),
        block('cr-x', 'us-east-2', { State: 'expired' }),
      ],
    });

    const { json } = await runJson<CapacityReport>(['capacity', '--blocks', '--active-only']);

    expect(json.capacityBlocks?.reservations.map((r) => r.id)).toEqual(['cr-a', 'cr-s']);
  });

  test('GIVEN no reservations WHEN capacity runs THEN it says none were found and exits 0', async () => {
    reservationsByRegion({});

    const run = await runCli(['capacity']);

    expect(run.code).toBe(0);
    expect(run.stdout).toBe('Capacity Blocks for ML: none in us-east-2.\n\nOn-Demand Capacity Reservations: none in us-east-2.\n');
  });

  test('fails when one region denies access, naming the action and the region', async () => {
    ec2.on(DescribeCapacityReservationsCommand).callsFake(async (_input, getClient) => {
      if ((await getClient().config.region()) === 'eu-west-1') throw awsError('UnauthorizedOperation');
      return { CapacityReservations: [] };
    });

    const run = await runCli(['capacity', '--regions', 'us-east-2,eu-west-1']);

    expect(run.code).toBe(2);
    expectOneLine(run.stderr);
    expect(run.stderr).toContain('may not call ec2:DescribeCapacityReservations in eu-west-1');
  });

  test('fails when an offerings-only flag is given without --offerings', async () => {
    const run = await runCli(['capacity', '--duration-hours', '24']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('capacity: --duration-hours cannot be used without --offerings');
  });

  test('fails when an instance type in --instance-types is malformed', async () => {
    const run = await runCli(['capacity', '--instance-types', 'trn1.32xlarge,TRN1']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--instance-types "TRN1" is not valid; expected an EC2 instance type such as p5.48xlarge');
  });
});

describe('capacity --offerings', () => {
  const offering = {
    CapacityBlockOfferingId: 'cbo-1',
    InstanceType: 'trn1.32xlarge' as const,
    AvailabilityZone: 'us-east-2a',
    InstanceCount: 2,
    StartDate: new Date('2025-07-01T11:30:00Z'),
    EndDate: new Date('2025-07-03T11:30:00Z'),
    CapacityBlockDurationHours: 48,
    UpfrontFee: '1234.56',
    CurrencyCode: 'USD',
  };

  test('GIVEN --offerings WHEN blocks are on sale THEN they are listed with their fee and the purchase command', async () => {
    ec2.on(DescribeCapacityBlockOfferingsCommand).resolves({ CapacityBlockOfferings: [offering] });

    const run = await runCli(['capacity', '--offerings', '--instance-type', 'trn1.32xlarge', '--count', '2', '--duration-hours', '48']);

    expect(run.code).toBe(0);
    expect(ec2).toHaveReceivedCommandWith(DescribeCapacityBlockOfferingsCommand, {
      InstanceType: 'trn1.32xlarge',
      InstanceCount: 2,
      CapacityDurationHours: 48,
    });
    expect(run.stdout).toContain('Capacity Block offerings for 2x trn1.32xlarge for 48 hours in us-east-2:');
    expect(run.stdout).toContain('1234.56 USD');
    expect(run.stdout).toContain('aws ec2 purchase-capacity-block --capacity-block-offering-id ID');
  });

  test('GIVEN --output json and two pages WHEN --offerings THEN every offer is in the document', async () => {
    ec2
      .on(DescribeCapacityBlockOfferingsCommand)
      .resolvesOnce({ CapacityBlockOfferings: [offering], NextToken: 'n' })
      .resolvesOnce({ CapacityBlockOfferings: [{ ...offering, CapacityBlockOfferingId: 'cbo-2', StartDate: new Date('2025-07-02T11:30:00Z') }] });

    const { json } = await runJson<CapacityOfferingsReport>(['capacity', '--offerings', '--instance-type', 'trn1.32xlarge']);

    expect(json.instanceCount).toBe(1);
    expect(json.durationHours).toBe(24);
    expect(json.offerings).toEqual([
      {
        offeringId: 'cbo-1',
        region: 'us-east-2',
        availabilityZone: 'us-east-2a',
        instanceType: 'trn1.32xlarge',
        instanceCount: 2,
        startDate: '2025-07-01T11:30:00.000Z',
        endDate: '2025-07-03T11:30:00.000Z',
        durationHours: 48,
        upfrontFee: 1234.56,
        currency: 'USD',
      },
      expect.objectContaining({ offeringId: 'cbo-2' }),
    ]);
  });

  test('fails when --offerings has no --instance-type', async () => {
    const run = await runCli(['capacity', '--offerings']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--offerings needs --instance-type TYPE');
  });

  test('fails when the catalog says the type is not sold as Capacity Blocks', async () => {
    const run = await runCli(['capacity', '--offerings', '--instance-type', 'trn1.2xlarge']);

    expect(run.code).toBe(2);
    expectOneLine(run.stderr);
    expect(run.stderr).toContain(
      '--instance-type "trn1.2xlarge" is not valid; expected a type sold as Capacity Blocks, e.g. trn1.32xlarge, trn1n.32xlarge, trn2.48xlarge',
    );
    expect(ec2).not.toHaveReceivedAnyCommand();
  });

  test('fails when a listing flag is combined with --offerings', async () => {
    const run = await runCli(['capacity', '--offerings', '--blocks', '--instance-type', 'trn1.32xlarge']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--blocks cannot be used with --offerings');
  });
});

// ---------------------------------------------------------------------------------------------
// --cluster: the cluster's nodes
// ---------------------------------------------------------------------------------------------

describe('capacity --cluster', () => {
  const withCluster = (cluster: object | undefined): Record<string, string> => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'capacity-cluster-')), 'config.json');
    fs.writeFileSync(file, JSON.stringify(cluster === undefined ? {} : { cluster }));
    return { AWS_REGION: 'us-east-2', TRAINIUM_SPOT_CONFIG: file };
  };

  test('GIVEN a spot cluster of trn1.32xlarge WHEN capacity --cluster THEN only reservations of the node type in the configured region are asked for', async () => {
    reservationsByRegion({ 'us-east-2': [block('cr-b1', 'us-east-2')] });

    const { code, json } = await runJson<CapacityReport>(['capacity', '--cluster'], { env: withCluster({ nodes: 2 }) });

    expect(code).toBe(0);
    expect(json.regions).toEqual(['us-east-2']);
    expect(json.filters.instanceTypes).toEqual(['trn1.32xlarge']);
    expect(json.cluster).toMatchObject({ instanceType: 'trn1.32xlarge', nodes: 2, market: 'spot', capacityReservationId: null, reservationHoldsNodes: null });
    expect(ec2).toHaveReceivedCommandWith(DescribeCapacityReservationsCommand, { Filters: [{ Name: 'instance-type', Values: ['trn1.32xlarge'] }] });
  });

  test('GIVEN a capacity-block cluster WHEN capacity --cluster THEN only its block is listed, with whether it holds the nodes', async () => {
    ec2.on(DescribeCapacityReservationsCommand).resolves({ CapacityReservations: [block('cr-0123456789abcdef0', 'us-east-2')] });

    const run = await runCli(['capacity', '--cluster'],
      { env: withCluster({ nodes: 4, market: 'capacity-block', capacityReservationId: 'cr-0123456789abcdef0' }) });

    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')[0]).toBe('Cluster trainium-spot: up to 4 trn1.32xlarge nodes, market capacity-block: the nodes launch in Capacity Block ' +
      'cr-0123456789abcdef0, scheduled, 4 trn1.32xlarge instances in us-east-2a (use1-az6), 2025-07-01T11:30:00Z to 2025-07-08T11:30:00Z; it holds all the nodes.');
    expect(ec2).toHaveReceivedCommandTimes(DescribeCapacityReservationsCommand, 1);
    expect(ec2).toHaveReceivedCommandWith(DescribeCapacityReservationsCommand, { CapacityReservationIds: ['cr-0123456789abcdef0'] });
  });

  test('GIVEN a capacity-block cluster whose block EC2 does not know in the region WHEN capacity --cluster THEN it says so', async () => {
    ec2.on(DescribeCapacityReservationsCommand).resolves({ CapacityReservations: [] });

    const { json } = await runJson<CapacityReport>(['capacity', '--cluster'],
      { env: withCluster({ nodes: 4, market: 'capacity-block', capacityReservationId: 'cr-0123456789abcdef0' }) });

    expect(json.cluster).toMatchObject({ reservation: null, reservationHoldsNodes: false });
    expect(json.capacityBlocks?.reservations).toEqual([]);
  });

  test('GIVEN --cluster --offerings WHEN run THEN blocks on sale are asked for cluster.nodes of the node type', async () => {
    ec2.on(DescribeCapacityBlockOfferingsCommand).resolves({ CapacityBlockOfferings: [] });

    const { code } = await runJson<CapacityOfferingsReport>(['capacity', '--cluster', '--offerings'], { env: withCluster({ nodes: 3 }) });

    expect(code).toBe(0);
    expect(ec2).toHaveReceivedCommandWith(DescribeCapacityBlockOfferingsCommand, { InstanceType: 'trn1.32xlarge', InstanceCount: 3, CapacityDurationHours: 24 });
  });

  test.each([
    [['capacity', '--cluster'], undefined,
      "trainium-spot: capacity: the configuration has no cluster key; add \"cluster\": { \"nodes\": 2 } to it (README, \"Cluster\") (see 'trainium-spot help capacity')\n"],
    [['capacity', '--cluster', '--instance-types', 'inf2.xlarge'], { nodes: 2 },
      "trainium-spot: capacity: --instance-types cannot be used with --cluster, which asks the cluster's region for its node type (see 'trainium-spot help capacity')\n"],
  ])('fails on %j with one line', async (argv, cluster, expected) => {
    const run = await runCli(argv, { env: withCluster(cluster) });

    expect(run.code).toBe(2);
    expect(run.stderr).toBe(expected);
  });
});
