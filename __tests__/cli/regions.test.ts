import { DescribeInstanceTypeOfferingsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { RegionsReport } from '../../src/cli/report';
import { runCli, runJson } from './cli-test-helpers';

const ec2 = mockClient(EC2Client);

const offerings = (...azIds: string[]) => ({
  InstanceTypeOfferings: azIds.map((Location) => ({ InstanceType: 'trn1.2xlarge' as const, LocationType: 'availability-zone-id' as const, Location })),
});

beforeEach(() => ec2.reset());

describe('regions', () => {
  test('GIVEN no flags WHEN regions runs THEN the catalog regions and AZ IDs of trn1.2xlarge are listed without calling AWS', async () => {
    const run = await runCli(['regions'], { env: {} });

    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      'trn1.2xlarge is offered in:\n' +
        '+-----------+--------------------+\n' +
        '| Region    | AZ IDs             |\n' +
        '+-----------+--------------------+\n' +
        '| us-east-1 | use1-az5, use1-az6 |\n' +
        '| us-east-2 | use2-az3           |\n' +
        '| us-west-2 | usw2-az1, usw2-az4 |\n' +
        '+-----------+--------------------+\n',
    );
    expect(ec2).not.toHaveReceivedAnyCommand();
  });

  test('GIVEN --output json WHEN regions runs THEN the document lists catalog AZ IDs and null live fields', async () => {
    const { json } = await runJson<RegionsReport>(['regions', '--instance-type', 'trn2.48xlarge']);

    expect(json).toEqual<RegionsReport>({
      schemaVersion: 1,
      command: 'regions',
      instanceType: 'trn2.48xlarge',
      live: false,
      regions: [{ region: 'us-east-2', catalogAzIds: ['use2-az3'], liveAzIds: null, matchesCatalog: null }],
    });
  });

  test('GIVEN --live WHEN EC2 agrees in one region and not in another THEN both are shown and the difference is named', async () => {
    ec2.on(DescribeInstanceTypeOfferingsCommand).callsFake(async (_input, getClient) =>
      (await getClient().config.region()) === 'us-east-2' ? offerings('use2-az3') : offerings('use1-az6', 'use1-az4', 'use1-az5'),
    );

    const run = await runCli(['regions', '--live', '--regions', 'us-east-1,us-east-2']);

    expect(ec2).toHaveReceivedCommandWith(DescribeInstanceTypeOfferingsCommand, {
      LocationType: 'availability-zone-id',
      Filters: [{ Name: 'instance-type', Values: ['trn1.2xlarge'] }],
    });
    expect(run.stdout).toContain('| us-east-1 | use1-az5, use1-az6 | use1-az4, use1-az5, use1-az6 | NO    |');
    expect(run.stdout).toContain('| us-east-2 | use2-az3           | use2-az3                     | yes   |');
    expect(run.stdout).toContain('EC2 and the catalog disagree in us-east-1');
  });

  test('GIVEN --live and two pages WHEN regions runs THEN the AZ IDs of both pages are compared', async () => {
    ec2
      .on(DescribeInstanceTypeOfferingsCommand)
      .resolvesOnce({ ...offerings('use2-az3'), NextToken: 't' })
      .resolvesOnce(offerings('use2-az1'));

    const { json } = await runJson<RegionsReport>(['regions', '--live', '--region', 'us-east-2']);

    expect(json.regions).toEqual([
      { region: 'us-east-2', catalogAzIds: ['use2-az3'], liveAzIds: ['use2-az1', 'use2-az3'], matchesCatalog: false },
    ]);
  });

  test('fails when the instance type is not in the catalog', async () => {
    const run = await runCli(['regions', '--instance-type', 'trn3.xlarge']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--instance-type "trn3.xlarge" is not valid');
  });
});
