/**
 * The built CLI (bin/trainium-spot.js -> dist/cli.js) as a child process, against a fake AWS on
 * 127.0.0.1: proves flag parsing, output and exit codes the way a person meets them.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { QuotaReport } from '../../src/cli/report';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'trainium-spot.js');

jest.setTimeout(30_000);

// ---------------------------------------------------------------------------------------------
// Fake AWS: Service Quotas speaks JSON 1.1 (X-Amz-Target), EC2 the query protocol with XML answers
// ---------------------------------------------------------------------------------------------

interface FakeAws {
  /** The applied quota value GetServiceQuota answers with, or an error `__type` to fail with. */
  quota: number | { error: string };
  /** Spot trn1.2xlarge instances DescribeInstances reports as running. */
  spotInstances: number;
  readonly requests: string[];
}

const fake: FakeAws = { quota: 0, spotInstances: 0, requests: [] };

function answerServiceQuotas(target: string, res: http.ServerResponse): void {
  res.setHeader('content-type', 'application/x-amz-json-1.1');
  if (target !== 'ServiceQuotasV20190624.GetServiceQuota') {
    res.statusCode = 400;
    res.end(JSON.stringify({ __type: 'IllegalArgumentException', message: `fake AWS does not answer ${target}` }));
  } else if (typeof fake.quota === 'object') {
    res.statusCode = 400;
    res.end(JSON.stringify({ __type: fake.quota.error, message: 'User: arn:aws:iam::123456789012:user/dev is not authorized' }));
  } else {
    res.end(JSON.stringify({ Quota: { QuotaCode: 'L-6B0D517C', QuotaName: 'All Trn Spot Instance Requests', Value: fake.quota } }));
  }
}

function answerEc2(body: string, res: http.ServerResponse): void {
  res.setHeader('content-type', 'text/xml;charset=UTF-8');
  const action = new URLSearchParams(body).get('Action');
  if (action !== 'DescribeInstances') {
    res.statusCode = 400;
    res.end(`<Response><Errors><Error><Code>InvalidAction</Code><Message>${action}</Message></Error></Errors><RequestID>r</RequestID></Response>`);
    return;
  }
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
    if (typeof target === 'string') answerServiceQuotas(target, res);
    else answerEc2(body, res);
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
  fake.spotInstances = 0;
  fake.requests.length = 0;
});

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('trainium-spot as a child process', () => {
  test('GIVEN quota 16 with one spot trn1.2xlarge running WHEN quota --output json THEN it exits 0 with the verdict fits', async () => {
    fake.quota = 16;
    fake.spotInstances = 1;

    const run = await trainiumSpot(['quota', '--output', 'json']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as QuotaReport;
    expect(report).toMatchObject({ command: 'quota', region: 'us-east-2', verdict: 'fits', freeVcpus: 8, additionalInstancesThatFit: 1 });
    expect(report.usage.inUseVcpus).toBe(8);
    expect(fake.requests).toContain('ServiceQuotasV20190624.GetServiceQuota');
    expect(fake.requests.find((r) => r.startsWith('Action=DescribeInstances'))).toContain('Filter.1.Name=instance-state-name');
  });

  test('GIVEN quota 8 with one spot trn1.2xlarge running WHEN quota THEN it exits 1 and prints the increase command', async () => {
    fake.quota = 8;
    fake.spotInstances = 1;

    const run = await trainiumSpot(['quota', '--region', 'us-east-2']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('DOES NOT FIT');
    expect(run.stdout).toContain(
      'aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-6B0D517C --desired-value 16 --region us-east-2',
    );
  });

  test('fails when a flag is malformed: exit 2, one line on stderr, AWS never asked', async () => {
    const run = await trainiumSpot(['quota', '--market', 'reserved']);

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      `trainium-spot: quota: --market "reserved" is not valid; expected one of spot, on-demand (see 'trainium-spot help quota')\n`,
    );
    expect(fake.requests).toEqual([]);
  });

  test('fails when Service Quotas denies access: exit 2 and one line naming the IAM action', async () => {
    fake.quota = { error: 'AccessDeniedException' };

    const run = await trainiumSpot(['quota']);

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      'trainium-spot: access denied: your credentials may not call servicequotas:GetServiceQuota in us-east-2 ' +
        '(AccessDeniedException); allow the IAM action servicequotas:GetServiceQuota for your user or role\n',
    );
  });

  test('GIVEN --help WHEN run THEN it prints the help and exits 0', async () => {
    const run = await trainiumSpot(['--help']);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('trainium-spot <command> [flags]');
  });
});
