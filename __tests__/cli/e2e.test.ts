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
import { QuotaReport, SshConfigReport, StatusReport } from '../../src/cli/report';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'trainium-spot.js');

jest.setTimeout(30_000);

// ---------------------------------------------------------------------------------------------
// Fake AWS: Service Quotas and SSM speak JSON 1.1, CloudWatch JSON 1.0 (X-Amz-Target), EC2 the
// query protocol with XML answers
// ---------------------------------------------------------------------------------------------

interface FakeBox {
  readonly id: string;
  state: string;
  /** EC2's state reason code. */
  readonly reason?: string;
}

interface FakeAws {
  /** The applied quota value GetServiceQuota answers with, or an error `__type` to fail with. */
  quota: number | { error: string };
  /** The stack's spot trn1.2xlarge boxes. */
  boxes: FakeBox[];
  /** States a started box passes through, one per DescribeInstances by id. */
  afterStart: string[];
  /** The error code StartInstances fails with, if any. */
  startError?: string;
  /** Action (EC2) or target (JSON protocols), and the region from the request's signature. */
  readonly requests: { readonly action: string; readonly region: string; readonly body: string }[];
}

const fake: FakeAws = { quota: 0, boxes: [], afterStart: [], requests: [] };
const PRIVATE_KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n';

function answerJson(target: string, res: http.ServerResponse): void {
  const [service, operation] = target.split('.');
  res.setHeader('content-type', service === 'GraniteServiceVersion20100801' ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1');
  const fail = (type: string, message: string) => {
    res.statusCode = 400;
    res.end(JSON.stringify({ __type: type, message }));
  };
  switch (operation) {
    case 'GetServiceQuota':
      if (typeof fake.quota === 'object') return fail(fake.quota.error, 'User: arn:aws:iam::123456789012:user/dev is not authorized');
      return void res.end(JSON.stringify({ Quota: { QuotaCode: 'L-6B0D517C', QuotaName: 'All Trn Spot Instance Requests', Value: fake.quota } }));
    case 'DescribeInstanceInformation':
      return void res.end(JSON.stringify({
        InstanceInformationList: fake.boxes.filter((b) => b.state === 'running').map((b) => ({ InstanceId: b.id, PingStatus: 'Online' })),
      }));
    case 'GetParameter':
      return void res.end(JSON.stringify({ Parameter: { Name: '/ec2/keypair/key-0123456789abcdef0', Type: 'SecureString', Value: PRIVATE_KEY } }));
    case 'GetMetricStatistics':
      return void res.end(JSON.stringify({ Label: 'Idle', Datapoints: [{ Timestamp: Date.now() / 1000 - 120, Maximum: 0 }] }));
    default:
      return fail('IllegalArgumentException', `fake AWS does not answer ${target}`);
  }
}

const ec2Xml = (action: string, inner: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
  `<requestId>req-1</requestId>${inner}</${action}Response>`;

const STATE_CODES: Record<string, number> = { pending: 0, running: 16, stopping: 64, stopped: 80 };
const stateXml = (tag: string, name: string) => `<${tag}><code>${STATE_CODES[name]}</code><name>${name}</name></${tag}>`;

function boxXml(b: FakeBox): string {
  return `<item><instanceId>${b.id}</instanceId><instanceType>trn1.2xlarge</instanceType><instanceLifecycle>spot</instanceLifecycle>` +
    stateXml('instanceState', b.state) +
    '<placement><availabilityZone>us-east-2c</availabilityZone><availabilityZoneId>use2-az3</availabilityZoneId></placement>' +
    (b.state === 'running' ? '<ipAddress>203.0.113.10</ipAddress>' : '') +
    `<launchTime>${new Date(Date.now() - 600_000).toISOString()}</launchTime><keyName>trainium-spot-2025</keyName>` +
    (b.reason ? `<stateReason><code>${b.reason}</code><message>${b.reason}</message></stateReason>` : '') +
    '<tagSet><item><key>Name</key><value>trainium-spot</value></item><item><key>ManagedBy</key><value>trainium-spot</value></item></tagSet></item>';
}

function answerEc2(body: string, res: http.ServerResponse): void {
  res.setHeader('content-type', 'text/xml;charset=UTF-8');
  const params = new URLSearchParams(body);
  const action = params.get('Action') ?? '';
  const fail = (code: string, message: string) => {
    res.statusCode = 400;
    res.end(`<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>r</RequestID></Response>`);
  };
  switch (action) {
    case 'DescribeInstances': {
      if (params.get('InstanceId.1')) {
        const next = fake.afterStart.shift();
        if (next) fake.boxes.forEach((b) => (b.state = next));
      }
      const wanted = [...params.entries()].filter(([k]) => /^Filter\.\d+\.Value\.\d+$/.test(k)).map(([, v]) => v);
      const states = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'].filter((st) => wanted.includes(st));
      const shown = fake.boxes.filter((b) => states.length === 0 || states.includes(b.state));
      return void res.end(ec2Xml(action,
        `<reservationSet><item><reservationId>r-1</reservationId><instancesSet>${shown.map(boxXml).join('')}</instancesSet></item></reservationSet>`));
    }
    case 'StartInstances':
    case 'StopInstances': {
      if (action === 'StartInstances' && fake.startError) return fail(fake.startError, 'There is no Spot capacity available that matches your request.');
      const next = action === 'StartInstances' ? 'pending' : 'stopping';
      const items = fake.boxes.filter((b) => b.id === params.get('InstanceId.1')).map((b) => {
        const item = `<item><instanceId>${b.id}</instanceId>${stateXml('currentState', next)}${stateXml('previousState', b.state)}</item>`;
        b.state = next;
        return item;
      });
      return void res.end(ec2Xml(action, `<instancesSet>${items.join('')}</instancesSet>`));
    }
    case 'DescribeKeyPairs':
      return void res.end(ec2Xml(action, '<keySet><item><keyPairId>key-0123456789abcdef0</keyPairId><keyName>trainium-spot-2025</keyName></item></keySet>'));
    case 'DescribeSpotPriceHistory':
      return void res.end(ec2Xml(action, '<spotPriceHistorySet><item><instanceType>trn1.2xlarge</instanceType>' +
        '<productDescription>Linux/UNIX</productDescription><spotPrice>0.403100</spotPrice>' +
        `<timestamp>${new Date().toISOString()}</timestamp><availabilityZone>us-east-2c</availabilityZone></item></spotPriceHistorySet>`));
    default:
      return fail('InvalidAction', action);
  }
}

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString()));
  req.on('end', () => {
    const target = req.headers['x-amz-target'];
    const region = /Credential=[^/]+\/\d+\/([^/]+)\//.exec(String(req.headers.authorization))?.[1] ?? '';
    const action = typeof target === 'string' ? target : new URLSearchParams(body).get('Action') ?? '';
    fake.requests.push({ action, region, body });
    if (typeof target === 'string') answerJson(target, res);
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
  fake.boxes = [];
  fake.afterStart = [];
  fake.startError = undefined;
  fake.requests.length = 0;
});

const actions = () => fake.requests.map((r) => r.action);

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('trainium-spot as a child process', () => {
  test('GIVEN quota 16 with one spot trn1.2xlarge running WHEN quota --output json THEN it exits 0 with the verdict fits', async () => {
    fake.quota = 16;
    fake.boxes = [{ id: 'i-0', state: 'running' }];

    const run = await trainiumSpot(['quota', '--output', 'json']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as QuotaReport;
    expect(report).toMatchObject({ command: 'quota', region: 'us-east-2', verdict: 'fits', freeVcpus: 8, additionalInstancesThatFit: 1 });
    expect(report.usage.inUseVcpus).toBe(8);
    expect(actions()).toContain('ServiceQuotasV20190624.GetServiceQuota');
    expect(fake.requests.find((r) => r.action === 'DescribeInstances')?.body).toContain('Filter.1.Name=instance-state-name');
  });

  test('GIVEN quota 8 with one spot trn1.2xlarge running WHEN quota THEN it exits 1 and prints the increase command', async () => {
    fake.quota = 8;
    fake.boxes = [{ id: 'i-0', state: 'running' }];

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
  test('GIVEN --help WHEN run THEN --help of a daily command exits 0 without loading the AWS SDK', async () => {
    const run = await trainiumSpot(['status', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('trainium-spot status - Every box of the stack');
    expect(fake.requests).toEqual([]);
  });
});

describe('the daily loop as a child process', () => {
  test.each<[string, FakeBox[], number]>([
    ['no box', [], 1],
    ['one box', [{ id: 'i-0aaa', state: 'running' }], 0],
    ['two boxes', [{ id: 'i-0aaa', state: 'running' }, { id: 'i-0bbb', state: 'stopped' }], 0],
  ])('GIVEN %s WHEN status --output json THEN every box is listed with its state', async (_case, boxes, exitCode) => {
    fake.boxes = boxes.map((b) => ({ ...b }));

    const run = await trainiumSpot(['status', '--output', 'json']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(exitCode);
    const report = JSON.parse(run.stdout) as StatusReport;
    expect(report.boxes.map((b) => [b.instanceId, b.state])).toEqual(boxes.map((b) => [b.id, b.state]));
    expect(report.boxes.filter((b) => b.state === 'running').map((b) => b.idle?.verdict)).toEqual(
      boxes.filter((b) => b.state === 'running').map(() => 'busy'));
    expect(report.costPerHour).toBe(boxes.some((b) => b.state === 'running') ? 0.4031 : 0);
  });

  test('GIVEN a stopped box WHEN start THEN it goes stopped -> pending -> running, waits for the SSM agent and prints how to connect', async () => {
    fake.boxes = [{ id: 'i-0aaa', state: 'stopped' }];
    fake.afterStart = ['pending', 'running'];

    const run = await trainiumSpot(['start', '--interval', '1']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('i-0aaa: stopped -> pending -> running, SSM agent online, public IP 203.0.113.10');
    expect(run.stdout).toContain('aws ssm start-session --target i-0aaa --region us-east-2');
    expect(actions().filter((a) => a === 'StartInstances')).toHaveLength(1);
    expect(actions()).toContain('AmazonSSM.DescribeInstanceInformation');
  });

  test('GIVEN EC2 has no spot capacity WHEN start THEN it says so plainly and exits 1', async () => {
    fake.boxes = [{ id: 'i-0aaa', state: 'stopped' }];
    fake.startError = 'InsufficientInstanceCapacity';

    const run = await trainiumSpot(['start', '--interval', '0']);

    expect(run.code).toBe(1);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('i-0aaa: spot capacity for trn1.2xlarge in us-east-2c is not back yet; its persistent spot request ' +
      'starts it when capacity returns (try again later, or see trainium-spot spot-price)\n');
  });

  test('fails without credentials: exit 2, one line saying how to get some, nothing sent', async () => {
    const run = await trainiumSpot(['status'], { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' });

    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^trainium-spot: no AWS credentials found \(.*\): run 'aws configure' or 'aws sso login', set AWS_PROFILE, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n$/);
    expect(fake.requests).toEqual([]);
  });

  test('GIVEN AWS_REGION names another region than the configuration WHEN status THEN it warns in one line and asks the configured region', async () => {
    fake.boxes = [{ id: 'i-0aaa', state: 'running' }];

    const run = await trainiumSpot(['status'], { AWS_REGION: 'us-west-2' });

    expect(run.code).toBe(0);
    expect(run.stderr).toBe('trainium-spot: warning: AWS_REGION is us-west-2, but the configured region is us-east-2 (from defaults); ' +
      'using us-east-2: set TRAINIUM_SPOT_REGION or "region" in the config to change it\n');
    expect(new Set(fake.requests.map((r) => r.region))).toEqual(new Set(['us-east-2']));
  });

  test('GIVEN TRAINIUM_SPOT_REGION where no box runs WHEN status THEN it asks that region and exits 1', async () => {
    fake.boxes = [];
    const run = await trainiumSpot(['status'], { TRAINIUM_SPOT_REGION: 'us-west-2', AWS_REGION: '' });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('No box named trainium-spot in us-west-2');
    expect(fake.requests.map((r) => r.region)).toEqual(['us-west-2']);
  });

  test('GIVEN a running box WHEN ssh THEN it fetches the key once and runs ssh through Session Manager', async () => {
    // GIVEN an ssh that prints what it was given
    fake.boxes = [{ id: 'i-0aaa', state: 'running' }];
    const userHome = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-ssh-'));
    const bin = path.join(userHome, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'ssh'), '#!/bin/sh\necho "ssh $*"\nexit 7\n', { mode: 0o755 });
    const env = { HOME: userHome, PATH: `${bin}:${process.env.PATH ?? ''}` };
    try {
      // WHEN
      const first = await trainiumSpot(['ssh'], env);
      const second = await trainiumSpot(['ssh'], env);
      // THEN
      const key = path.join(userHome, '.ssh', 'trainium-spot-key-0123456789abcdef0.pem');
      expect(first.code).toBe(7);
      expect(first.stdout).toBe(`ssh -i ${key} -o IdentitiesOnly=yes -o ProxyCommand=aws ssm start-session --target %h ` +
        '--document-name AWS-StartSSHSession --parameters portNumber=%p --region us-east-2 -o StrictHostKeyChecking=accept-new ubuntu@i-0aaa\n');
      expect(second.stdout).toBe(first.stdout);
      expect(fs.readFileSync(key, 'utf8')).toBe(PRIVATE_KEY);
      expect(fs.statSync(key).mode & 0o777).toBe(0o600);
      expect(actions().filter((a) => a === 'AmazonSSM.GetParameter')).toHaveLength(1);
    } finally {
      fs.rmSync(userHome, { recursive: true, force: true });
    }
  });

  test('GIVEN a temp HOME WHEN ssh-config runs, runs again after the box changed, and --remove THEN written once, rewritten in place, removed', async () => {
    fake.boxes = [{ id: 'i-0aaa', state: 'stopped' }];
    const userHome = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-sshconfig-'));
    const managed = path.join(userHome, '.ssh', 'trainium-spot', 'trainium-spot.conf');
    const userConfig = path.join(userHome, '.ssh', 'config');
    try {
      const written = await trainiumSpot(['ssh-config'], { HOME: userHome });
      const again = await trainiumSpot(['ssh-config'], { HOME: userHome });
      fake.boxes = [{ id: 'i-0ccc', state: 'stopped' }];
      const rewritten = await trainiumSpot(['ssh-config', '--output', 'json'], { HOME: userHome });
      const afterRewrite = fs.readFileSync(managed, 'utf8');
      const removed = await trainiumSpot(['ssh-config', '--remove'], { HOME: userHome });

      expect([written.code, again.code, rewritten.code, removed.code]).toEqual([0, 0, 0, 0]);
      expect(written.stdout).toBe(`Wrote ${managed} (included from ${userConfig})\n  ssh trainium-spot    # i-0aaa through Session Manager\n`);
      expect(again.stdout).toContain('Up to date:');
      expect((JSON.parse(rewritten.stdout) as SshConfigReport).action).toBe('written');
      expect(afterRewrite).toContain('HostName i-0ccc');
      expect(removed.stdout).toBe(`Removed ${managed} and, with no other blocks left, its Include.\n`);
      expect(fs.existsSync(managed)).toBe(false);
      expect(fs.readFileSync(userConfig, 'utf8')).toBe('');
    } finally {
      fs.rmSync(userHome, { recursive: true, force: true });
    }
  });

  test('fails when stop has no terminal and no --yes: one line, nothing stopped', async () => {
    fake.boxes = [{ id: 'i-0aaa', state: 'running' }];
    const run = await trainiumSpot(['stop']);
    expect(run.code).toBe(2);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(actions()).not.toContain('StopInstances');

    const yes = await trainiumSpot(['stop', '--yes']);
    expect(yes.code).toBe(0);
    expect(yes.stdout).toContain('i-0aaa: running -> stopping');
  });
});
