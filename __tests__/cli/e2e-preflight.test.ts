/**
 * The preflight commands `image` and `where` as a child process (bin/trainium-spot.js -> dist/cli.js),
 * against a fake AWS on 127.0.0.1 that answers SSM, DescribeImages and the placement-score world.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ImageReport, WhereReport } from '../../src/cli/report';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'trainium-spot.js');

jest.setTimeout(30_000);

// ---------------------------------------------------------------------------------------------
// Fake AWS: Service Quotas speaks JSON 1.1 (X-Amz-Target), EC2 the query protocol with XML answers
// ---------------------------------------------------------------------------------------------

interface FakeAws {
  /** The applied quota value GetServiceQuota answers with, or an error `__type` to fail with. */
  quota: number | { error: string };
  /** Per region and quota code, instead of `quota`; a missing entry answers NoSuchResourceException. */
  quotaByRegion: Record<string, Record<string, number>> | undefined;
  /** Spot trn1.2xlarge instances DescribeInstances reports as running. */
  spotInstances: number;
  /** The AMI id GetParameter answers with for any parameter. */
  readonly parameterValue: string;
  /** Name and creation date of the one image DescribeImages knows. */
  image: { name: string; creationDate: string };
  /** EC2 actions answered with UnauthorizedOperation. */
  deniedEc2: string[];
  readonly requests: string[];
}

const fake: FakeAws = {
  quota: 0,
  quotaByRegion: undefined,
  spotInstances: 0,
  parameterValue: 'ami-0123456789abcdef0',
  image: { name: '', creationDate: '' },
  deniedEc2: [],
  requests: [],
};

/** Systems Manager speaks JSON 1.1 too; the fake answers GetParameter for any name. */
function answerSsm(target: string, body: string, res: http.ServerResponse): void {
  res.setHeader('content-type', 'application/x-amz-json-1.1');
  if (target !== 'AmazonSSM.GetParameter') {
    res.statusCode = 400;
    res.end(JSON.stringify({ __type: 'ValidationException', message: `fake AWS does not answer ${target}` }));
    return;
  }
  const { Name } = JSON.parse(body) as { Name: string };
  res.end(JSON.stringify({ Parameter: { Name, Type: 'String', Value: fake.parameterValue, Version: 1 } }));
}

function describeImagesXml(body: string): string {
  const params = new URLSearchParams(body);
  const known = params.get('ImageId.1') === fake.parameterValue;
  const item = known
    ? `<item><imageId>${fake.parameterValue}</imageId><name>${fake.image.name}</name><architecture>x86_64</architecture>` +
      `<creationDate>${fake.image.creationDate}</creationDate><rootDeviceName>/dev/sda1</rootDeviceName>` +
      '<blockDeviceMapping><item><deviceName>/dev/sda1</deviceName><ebs><snapshotId>snap-1</snapshotId><volumeSize>75</volumeSize>' +
      '</ebs></item></blockDeviceMapping></item>'
    : '';
  return '<?xml version="1.0" encoding="UTF-8"?><DescribeImagesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">' +
    `<requestId>req-2</requestId><imagesSet>${item}</imagesSet></DescribeImagesResponse>`;
}

/** The region a request is signed for: the SDK sends one endpoint for all, but signs per region. */
const signedRegion = (req: http.IncomingMessage): string =>
  /Credential=[^/]+\/\d+\/([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? 'unknown';

function answerServiceQuotas(target: string, body: string, region: string, res: http.ServerResponse): void {
  res.setHeader('content-type', 'application/x-amz-json-1.1');
  const code = (JSON.parse(body || '{}') as { QuotaCode?: string }).QuotaCode ?? '';
  const regional = fake.quotaByRegion?.[region]?.[code];
  if (target !== 'ServiceQuotasV20190624.GetServiceQuota') {
    res.statusCode = 400;
    res.end(JSON.stringify({ __type: 'IllegalArgumentException', message: `fake AWS does not answer ${target}` }));
  } else if (fake.quotaByRegion && regional === undefined) {
    res.statusCode = 400;
    res.end(JSON.stringify({ __type: 'NoSuchResourceException', message: 'The request failed because the specified service quota does not exist.' }));
  } else if (fake.quotaByRegion) {
    res.end(JSON.stringify({ Quota: { QuotaCode: code, QuotaName: code, Value: regional } }));
  } else if (typeof fake.quota === 'object') {
    res.statusCode = 400;
    res.end(JSON.stringify({ __type: fake.quota.error, message: 'User: arn:aws:iam::123456789012:user/dev is not authorized' }));
  } else {
    res.end(JSON.stringify({ Quota: { QuotaCode: 'L-6B0D517C', QuotaName: 'All Trn Spot Instance Requests', Value: fake.quota } }));
  }
}

// The `where` world: trn1.2xlarge in two AZs of us-east-1 and one of us-east-2, not in eu-west-1.
const WHERE_ZONES: Record<string, [name: string, id: string, price: string][]> = {
  'us-east-1': [['us-east-1a', 'use1-az6', '0.5100'], ['us-east-1b', 'use1-az5', '0.4200']],
  'us-east-2': [['us-east-2c', 'use2-az3', '0.3900']],
  'eu-west-1': [],
};
const WHERE_SCORES: [region: string, azId: string, score: number][] = [
  ['us-east-1', 'use1-az6', 4], ['us-east-1', 'use1-az5', 8], ['us-east-2', 'use2-az3', 6],
];

const ec2Response = (action: string, inner: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
  `<requestId>req-1</requestId>${inner}</${action}Response>`;
const items = (rows: string[]) => rows.map((row) => `<item>${row}</item>`).join('');

/** Answers of the EC2 actions `where` calls beyond DescribeInstances, for the region signed for. */
const WHERE_ACTIONS: Record<string, (region: string) => string> = {
  GetSpotPlacementScores: () => `<spotPlacementScoreSet>${items(WHERE_SCORES.map(([region, id, score]) =>
    `<region>${region}</region><availabilityZoneId>${id}</availabilityZoneId><score>${score}</score>`))}</spotPlacementScoreSet>`,
  DescribeInstanceTypeOfferings: (region) => `<instanceTypeOfferingSet>${items((WHERE_ZONES[region] ?? []).map(([, id]) =>
    `<instanceType>trn1.2xlarge</instanceType><locationType>availability-zone-id</locationType><location>${id}</location>`))}</instanceTypeOfferingSet>`,
  DescribeAvailabilityZones: (region) => `<availabilityZoneInfo>${items((WHERE_ZONES[region] ?? []).map(([name, id]) =>
    `<zoneName>${name}</zoneName><zoneId>${id}</zoneId><regionName>${region}</regionName>`))}</availabilityZoneInfo>`,
  DescribeSpotPriceHistory: (region) => `<spotPriceHistorySet>${items((WHERE_ZONES[region] ?? []).map(([name, , price]) =>
    `<instanceType>trn1.2xlarge</instanceType><productDescription>Linux/UNIX</productDescription><spotPrice>${price}</spotPrice>` +
    `<timestamp>2026-12-01T10:00:00.000Z</timestamp><availabilityZone>${name}</availabilityZone>`))}</spotPriceHistorySet><nextToken></nextToken>`,
};

function answerEc2(body: string, region: string, res: http.ServerResponse): void {
  res.setHeader('content-type', 'text/xml;charset=UTF-8');
  const action = new URLSearchParams(body).get('Action') ?? '';
  if (action === 'DescribeImages') {
    res.end(describeImagesXml(body));
    return;
  }
  const fail = (code: string, message: string) => {
    res.statusCode = 400;
    res.end(`<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>r</RequestID></Response>`);
  };
  if (fake.deniedEc2.includes(action)) return fail('UnauthorizedOperation', 'You are not authorized to perform this operation.');
  if (WHERE_ACTIONS[action]) {
    res.end(ec2Response(action, WHERE_ACTIONS[action](region)));
    return;
  }
  if (action !== 'DescribeInstances') return fail('InvalidAction', action);
  const items = Array.from(
    { length: fake.spotInstances },
    (_, i) =>
      `<item><instanceId>i-${i}</instanceId><instanceType>trn1.2xlarge</instanceType><instanceLifecycle>spot</instanceLifecycle>` +
      '<instanceState><code>16</code><name>running</name></instanceState></item>',
  ).join('');
  res.end(
    '<?xml version="1.0" encoding="UTF-8"?><DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">' +
      `<requestId>req-1</requestId><reservationSet><item><reservationId>r-1</reservationId><instancesSet>${items}</instancesSet></item></reservationSet>` +
      '</DescribeInstancesResponse>',
  );
}

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString()));
  req.on('end', () => {
    const target = req.headers['x-amz-target'];
    fake.requests.push(typeof target === 'string' ? target : body);
    if (typeof target === 'string' && target.startsWith('AmazonSSM.')) answerSsm(target, body, res);
    else if (typeof target === 'string') answerServiceQuotas(target, body, signedRegion(req), res);
    else answerEc2(body, signedRegion(req), res);
  });
});

// ---------------------------------------------------------------------------------------------
// Running the CLI
// ---------------------------------------------------------------------------------------------

let endpoint = '';
let home = '';

interface ChildRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Spawns the CLI asynchronously: the fake AWS in this process must keep answering meanwhile. */
function trainiumSpot(args: string[], env: Record<string, string> = {}): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        AWS_CONFIG_FILE: path.join(home, 'no-config'),
        AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'no-credentials'),
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_ENDPOINT_URL: endpoint,
        AWS_ACCESS_KEY_ID: 'AKIAFAKEFAKEFAKE',
        AWS_SECRET_ACCESS_KEY: 'fake-secret',
        AWS_REGION: 'us-east-2',
        ...env,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  const build = spawnSync(process.execPath, ['scripts/build.mjs', 'cli'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`build failed: ${build.stderr}`);
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-e2e-'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(home, { recursive: true, force: true });
});

beforeEach(() => {
  fake.quota = 0;
  fake.quotaByRegion = undefined;
  fake.spotInstances = 0;
  fake.image = { name: 'Deep Learning AMI Neuron PyTorch 2.9 (Ubuntu 24.04) 20260707', creationDate: new Date().toISOString() };
  fake.deniedEc2 = [];
  fake.requests.length = 0;
});

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
    expect(fake.requests).toContain('AmazonSSM.GetParameter');
    expect(fake.requests.find((r) => r.startsWith('Action=DescribeImages'))).toContain('ImageId.1=ami-0123456789abcdef0');
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

  beforeEach(() => {
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
    expect(fake.requests.filter((r) => r.startsWith('Action=GetSpotPlacementScores'))).toHaveLength(1);
    const scoresAsked = new URLSearchParams(fake.requests.find((r) => r.startsWith('Action=GetSpotPlacementScores')));
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

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      'trainium-spot: access denied: your credentials may not call ec2:GetSpotPlacementScores in us-east-1 ' +
        '(UnauthorizedOperation); allow the IAM action ec2:GetSpotPlacementScores for your user or role\n',
    );
  });

  test('fails when there are no AWS credentials: exit 2, one line, and AWS is never asked', async () => {
    const run = await trainiumSpot(REGIONS, { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' });

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^trainium-spot: no AWS credentials found \(.*\): run 'aws configure' or 'aws sso login'/);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(fake.requests).toEqual([]);
  });
});
