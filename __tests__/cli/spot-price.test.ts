import {
  DescribeAvailabilityZonesCommand,
  DescribeSpotPriceHistoryCommand,
  DescribeSpotPriceHistoryCommandInput,
  EC2Client,
  SpotPrice,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { INSTANCE_TYPES, PRICE_SOURCE, regionsOffering } from '../../src/catalog';
import { SpotPriceReport } from '../../src/cli/report';
import { expectOneLine, runCli, runJson } from './cli-test-helpers';

const ec2 = mockClient(EC2Client);

const ON_DEMAND = INSTANCE_TYPES['trn1.2xlarge'].onDemandPricePerHour;

const price = (zone: string, usdPerHour: string, at: string): SpotPrice =>
  ({ AvailabilityZone: zone, InstanceType: 'trn1.2xlarge', ProductDescription: 'Linux/UNIX', SpotPrice: usdPerHour, Timestamp: new Date(at) }) as SpotPrice;

const ZONES: Record<string, { ZoneName: string; ZoneId: string }[]> = {
  'us-east-1': [{ ZoneName: 'us-east-1a', ZoneId: 'use1-az6' }],
  'us-east-2': [{ ZoneName: 'us-east-2c', ZoneId: 'use2-az3' }],
  'us-west-2': [{ ZoneName: 'us-west-2d', ZoneId: 'usw2-az4' }],
};

beforeEach(() => {
  ec2.reset();
  ec2.on(DescribeAvailabilityZonesCommand).callsFake(async (_input, getClient) => ({
    AvailabilityZones: ZONES[await getClient().config.region()] ?? [],
  }));
});

describe('spot-price', () => {
  test('GIVEN three prices in one AZ WHEN spot-price runs THEN the latest is current and the range spans all three', async () => {
    ec2.on(DescribeSpotPriceHistoryCommand).resolves({
      SpotPriceHistory: [
        price('us-east-2c', '0.4000', '2025-06-01T12:00:00Z'),
        price('us-east-2c', '0.3000', '2025-06-01T06:00:00Z'),
        price('us-east-2c', '0.5000', '2025-05-31T20:00:00Z'),
      ],
    });

    const { json } = await runJson<SpotPriceReport>(['spot-price', '--region', 'us-east-2']);

    expect(json.zones).toEqual([
      {
        region: 'us-east-2',
        availabilityZone: 'us-east-2c',
        availabilityZoneId: 'use2-az3',
        pricePerHour: 0.4,
        since: '2025-06-01T12:00:00.000Z',
        minPricePerHour24h: 0.3,
        maxPricePerHour24h: 0.5,
        savingPercent: Math.round((1 - 0.4 / ON_DEMAND) * 1000) / 10,
      },
    ]);
    expect(json.cheapest).toEqual(json.zones[0]);
    expect(json.onDemand).toEqual({ pricePerHour: ON_DEMAND, source: PRICE_SOURCE });
  });

  test('GIVEN a run now WHEN spot-price asks EC2 THEN it asks for Linux/UNIX prices of the type over the last 24 hours', async () => {
    ec2.on(DescribeSpotPriceHistoryCommand).resolves({ SpotPriceHistory: [] });
    const before = Date.now();

    await runCli(['spot-price', '--region', 'us-east-2', '--instance-type', 'trn1.32xlarge']);

    expect(ec2).toHaveReceivedCommandWith(DescribeSpotPriceHistoryCommand, {
      InstanceTypes: ['trn1.32xlarge'],
      ProductDescriptions: ['Linux/UNIX'],
    });
    const input = ec2.commandCalls(DescribeSpotPriceHistoryCommand)[0].args[0].input as DescribeSpotPriceHistoryCommandInput;
    const windowMs = (input.EndTime as Date).getTime() - (input.StartTime as Date).getTime();
    expect(windowMs).toBe(24 * 3_600_000);
    expect((input.EndTime as Date).getTime()).toBeGreaterThanOrEqual(before);
  });

  test('GIVEN no --regions WHEN spot-price runs THEN every region the catalog lists is asked and zones are merged cheapest first', async () => {
    ec2.on(DescribeSpotPriceHistoryCommand).callsFake(async (_input, getClient) => {
      const region = await getClient().config.region();
      const usdPerHour = { 'us-east-1': '0.5000', 'us-east-2': '0.3000', 'us-west-2': '0.4000' }[region] ?? '9';
      return { SpotPriceHistory: [price(ZONES[region][0].ZoneName, usdPerHour, '2025-06-01T00:00:00Z')] };
    });

    const { json } = await runJson<SpotPriceReport>(['spot-price']);

    expect(ec2).toHaveReceivedCommandTimes(DescribeSpotPriceHistoryCommand, regionsOffering('trn1.2xlarge').length);
    expect(json.zones.map((z) => [z.region, z.availabilityZoneId])).toEqual([
      ['us-east-2', 'use2-az3'],
      ['us-west-2', 'usw2-az4'],
      ['us-east-1', 'use1-az6'],
    ]);
    expect(json.regions).toEqual(regionsOffering('trn1.2xlarge'));
    expect(json.cheapest?.availabilityZoneId).toBe('use2-az3');
  });

  test('GIVEN history on two pages WHEN spot-price runs THEN both pages are read', async () => {
    ec2
      .on(DescribeSpotPriceHistoryCommand)
      .resolvesOnce({ SpotPriceHistory: [price('us-east-2c', '0.4', '2025-06-01T12:00:00Z')], NextToken: 'more' })
      .resolvesOnce({ SpotPriceHistory: [price('us-east-2c', '0.2', '2025-06-01T00:00:00Z')] });

    const { json } = await runJson<SpotPriceReport>(['spot-price', '--region', 'us-east-2']);

    expect(ec2).toHaveReceivedNthSpecificCommandWith(2, DescribeSpotPriceHistoryCommand, { NextToken: 'more' });
    expect(json.zones[0]).toMatchObject({ pricePerHour: 0.4, minPricePerHour24h: 0.2 });
  });

  test('GIVEN prices WHEN the table is printed THEN it shows AZ name and ID, the saving and the on-demand source', async () => {
    ec2.on(DescribeSpotPriceHistoryCommand).resolves({ SpotPriceHistory: [price('us-east-2c', '0.4031', '2025-06-01T12:00:00Z')] });

    const run = await runCli(['spot-price', '--region', 'us-east-2']);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\| us-east-2 \| us-east-2c \| use2-az3 \| \$0\.4031 +\| 2025-06-01T12:00:00Z \|/);
    expect(run.stdout).toContain(`On-demand: $${ON_DEMAND.toFixed(4)}/h (${PRICE_SOURCE})`);
    expect(run.stdout).toContain('Cheapest: use2-az3 (us-east-2c) at $0.4031/h, 70% below on-demand');
  });

  test('GIVEN no prices WHEN spot-price runs THEN it says so and exits 0', async () => {
    ec2.on(DescribeSpotPriceHistoryCommand).resolves({ SpotPriceHistory: [] });

    const run = await runCli(['spot-price', '--region', 'us-east-2']);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('No Linux/UNIX spot prices for trn1.2xlarge in us-east-2 in the last 24 hours.');
  });

  test('fails when EC2 denies DescribeSpotPriceHistory', async () => {
    ec2.on(DescribeSpotPriceHistoryCommand).rejects(Object.assign(new Error('no'), { name: 'UnauthorizedOperation' }));

    const run = await runCli(['spot-price', '--region', 'us-east-2']);

    expect(run.code).toBe(2);
    expectOneLine(run.stderr);
    expect(run.stderr).toContain('allow the IAM action ec2:DescribeSpotPriceHistory');
  });

  test('fails when the instance type is not in the catalog', async () => {
    const run = await runCli(['spot-price', '--instance-type', 'p5.48xlarge']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--instance-type "p5.48xlarge" is not valid; expected an instance type from the catalog');
  });
});
