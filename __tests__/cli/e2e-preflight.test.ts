/**
 * The preflight commands `image` and `where` as a child process (bin/trainium-spot.js -> dist/cli.js),
 * against a fake AWS on 127.0.0.1 that answers SSM, DescribeImages and the placement-score world.
 */
import { ImageReport, WhereReport } from '../../src/cli/report';
import { expectFailure, useFakeAws } from './fake-aws';

jest.setTimeout(30_000);

const { fake, trainiumSpot } = useFakeAws();

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('trainium-spot image as a child process', () => {
  test('GIVEN the defaults WHEN image THEN it reads the PyTorch parameter and the image, and exits 0', async () => {
    const run = await trainiumSpot(['image']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Image pytorch (preset pytorch-2.9) for trn1.2xlarge in us-east-2:');
    expect(run.stdout).toContain('  AMI id         ami-0123456789abcdef0\n');
    expect(run.stdout).toContain('  Root snapshot  75 GiB\n');
    expect(run.stdout).toContain('  Activate       source /opt/aws_neuronx_venv_pytorch_2_9/bin/activate\n');
    expect(fake.actions()).toContain('AmazonSSM.GetParameter');
    expect(fake.requests.find((r) => r.action === 'DescribeImages')?.body).toContain('ImageId.1=ami-0123456789abcdef0');
  });

  test('GIVEN an image from two years ago WHEN image --output json THEN it warns that it is old', async () => {
    fake.image.creationDate = new Date(Date.now() - 730 * 86_400_000).toISOString();

    const run = await trainiumSpot(['image', '--output', 'json']);

    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as ImageReport;
    expect(report.warnings).toEqual([expect.stringMatching(/^the image is 730 days old/)]);
  });

});

describe('trainium-spot where as a child process', () => {
  const REGIONS = ['where', '--regions', 'us-east-1,us-east-2,eu-west-1'];

  // The `where` world: trn1.2xlarge in two AZs of us-east-1 and one of us-east-2, not in eu-west-1.
  beforeEach(() => {
    fake.zones = {
      'us-east-1': [['us-east-1a', 'use1-az6', '0.5100'], ['us-east-1b', 'use1-az5', '0.4200']],
      'us-east-2': [['us-east-2c', 'use2-az3', '0.3900']],
      'eu-west-1': [],
    };
    fake.scores = [['us-east-1', 'use1-az6', 4], ['us-east-1', 'use1-az5', 8], ['us-east-2', 'use2-az3', 6]];
    fake.quotaByRegion = {
      'us-east-1': { 'L-6B0D517C': 16, 'L-2C3B7624': 8 },
      'us-east-2': { 'L-6B0D517C': 0, 'L-2C3B7624': 8 },
    };
  });

  test('GIVEN scores, prices and quotas in three regions WHEN where --output json THEN the AZs are ranked and the best is named', async () => {
    // WHEN
    const run = await trainiumSpot([...REGIONS, '--output', 'json']);
    // THEN
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as WhereReport;
    expect(report.zones.map((z) => [z.region, z.availabilityZoneId, z.availabilityZone, z.placementScore, z.spotPrice?.nowPerHour, z.spotQuota.freeVcpus]))
      .toEqual([
        ['us-east-1', 'use1-az5', 'us-east-1b', 8, 0.42, 16],
        ['us-east-1', 'use1-az6', 'us-east-1a', 4, 0.51, 16],
        // The highest score but no spot quota: last.
        ['us-east-2', 'use2-az3', 'us-east-2c', 6, 0.39, 0],
      ]);
    expect(report.regionsWithoutType).toEqual(['eu-west-1']);
    expect(report.config).toEqual({ region: 'us-east-1', availabilityZoneId: 'use1-az5' });
    expect(fake.actions().filter((a) => a === 'GetSpotPlacementScores')).toHaveLength(1);
    const scoresAsked = new URLSearchParams(fake.requests.find((r) => r.action === 'GetSpotPlacementScores')?.body);
    expect(Object.fromEntries(scoresAsked)).toMatchObject({
      TargetCapacity: '8', TargetCapacityUnitType: 'vcpu', SingleAvailabilityZone: 'true', 'InstanceType.1': 'trn1.2xlarge',
      'RegionName.1': 'us-east-1', 'RegionName.2': 'us-east-2', 'RegionName.3': 'eu-west-1',
    });
  });

  test('GIVEN the table output THEN it ends with the exact config lines of the best AZ', async () => {
    const run = await trainiumSpot(REGIONS);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Not offered in: eu-west-1\n');
    expect(run.stdout).toMatch(/\n {2}"region": "us-east-1",\n {2}"availabilityZoneId": "use1-az5"\n$/);
  });

  test('fails when the caller may not get placement scores: exit 2 and one line naming the permission', async () => {
    fake.deniedEc2 = ['GetSpotPlacementScores'];

    const run = await trainiumSpot(REGIONS);

    expectFailure(
      run,
      'trainium-spot: access denied: your credentials may not call ec2:GetSpotPlacementScores in us-east-1 ' +
        '(UnauthorizedOperation); allow the IAM action ec2:GetSpotPlacementScores for your user or role\n',
    );
  });

  test('fails when there are no AWS credentials: exit 2, one line, and AWS is never asked', async () => {
    const run = await trainiumSpot(REGIONS, { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' });

    expectFailure(run, /^trainium-spot: no AWS credentials found \(.*\): run 'aws configure' or 'aws sso login'/);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(fake.requests).toEqual([]);
  });
});
