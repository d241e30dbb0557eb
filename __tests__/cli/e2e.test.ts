/**
 * The built CLI (bin/trainium-spot.js -> dist/cli.js) as a child process, against a fake AWS on
 * 127.0.0.1: proves flag parsing, output and exit codes the way a person meets them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { QuotaReport, SshConfigReport, StatusReport } from '../../src/cli/report';
import { expectFailure, FAKE_DEPLOYMENT, FakeBox, PRIVATE_KEY, useFakeAws } from './fake-aws';
import { tableCell } from './table';

jest.setTimeout(30_000);

const { fake, trainiumSpot } = useFakeAws();

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
    expect(fake.actions()).toContain('ServiceQuotasV20190624.GetServiceQuota');
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

    expectFailure(
      run,
      `trainium-spot: quota: --market "reserved" is not valid; expected one of spot, on-demand (see 'trainium-spot help quota')\n`,
    );
    expect(fake.requests).toEqual([]);
  });

  test('fails when Service Quotas denies access: exit 2 and one line naming the IAM action', async () => {
    fake.quota = { error: 'AccessDeniedException' };

    const run = await trainiumSpot(['quota']);

    expectFailure(
      run,
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
    expect(report.boxes.map((b) => [b.agent?.state, b.agent?.documentVersion])).toEqual(boxes.map(() => ['success', '1']));
    expect(report.failedCalls).toEqual([]);
  });

  test('GIVEN a stopped box WHEN start THEN it goes stopped -> pending -> running, waits for the SSM agent and prints how to connect', async () => {
    fake.boxes = [{ id: 'i-0aaa', state: 'stopped' }];
    fake.afterStart = ['pending', 'running'];

    const run = await trainiumSpot(['start', '--interval', '1']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('i-0aaa: stopped -> pending -> running, SSM agent online, public IP 203.0.113.10');
    expect(run.stdout).toContain('aws ssm start-session --target i-0aaa --region us-east-2');
    expect(fake.actions().filter((a) => a === 'StartInstances')).toHaveLength(1);
    expect(fake.actions()).toContain('AmazonSSM.DescribeInstanceInformation');
  });

  test('GIVEN EC2 has no spot capacity WHEN start THEN it says so plainly and exits 1', async () => {
    fake.boxes = [{ id: 'i-0aaa', state: 'stopped' }];
    fake.startError = 'InsufficientInstanceCapacity';

    const run = await trainiumSpot(['start', '--interval', '0']);

    expect(run.code).toBe(1);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(`trainium-spot in us-east-2, deployment ${FAKE_DEPLOYMENT}:\n` +
      'i-0aaa: spot capacity for trn1.2xlarge in us-east-2c is not back yet; its persistent spot request ' +
      'starts it when capacity returns (try again later, or see trainium-spot spot-price)\n');
  });

  test('fails without credentials: exit 2, one line saying how to get some, nothing sent', async () => {
    const run = await trainiumSpot(['status'], { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' });

    expectFailure(run, /^trainium-spot: no AWS credentials found \(.*\): run 'aws configure' or 'aws sso login', set AWS_PROFILE, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n$/);
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
      expect(fake.actions().filter((a) => a === 'AmazonSSM.GetParameter')).toHaveLength(1);
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
      expect(written.stdout).toBe(`Wrote ${managed} (included from ${userConfig}) for trainium-spot in us-east-2, deployment ${FAKE_DEPLOYMENT}\n` +
        '  ssh trainium-spot    # i-0aaa through Session Manager\n');
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
    expect(fake.actions()).not.toContain('StopInstances');

    const yes = await trainiumSpot(['stop', '--yes']);
    expect(yes.code).toBe(0);
    expect(yes.stdout).toContain('i-0aaa: running -> stopping');
  });
});

describe('two deployments with the default name in one account and region, as a child process', () => {
  const OTHER = '9c1b7e42-5d3a-4f60-8b21-6e0f9a4c2d18';

  test('GIVEN a box of each WHEN stop --yes and ssh THEN both refuse, listing the deployments; --deployment stops only its own and lists it', async () => {
    // GIVEN two running boxes, one per deployment
    fake.boxes = [{ id: 'i-0aaa', state: 'running' }, { id: 'i-0bbb', state: 'running', deployment: OTHER }];
    const userHome = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-two-'));
    try {
      // WHEN
      const stopBoth = await trainiumSpot(['stop', '--yes'], { HOME: userHome });
      const ssh = await trainiumSpot(['ssh', '--print'], { HOME: userHome });
      const stopOne = await trainiumSpot(['stop', '--yes', '--deployment', OTHER], { HOME: userHome });
      // THEN nothing was stopped and no key fetched while it could not tell them apart
      for (const refused of [stopBoth, ssh]) {
        expect(refused.code).toBe(2);
        expect(refused.stdout).toBe('');
        expect(refused.stderr).toMatch(new RegExp('^trainium-spot: 2 deployments have boxes named trainium-spot in us-east-2; ' +
          `say which with --deployment .*\n  ${FAKE_DEPLOYMENT}: i-0aaa running \\(launched [^)]+\\)\n  ${OTHER}: i-0bbb running \\(launched [^)]+\\)\n$`));
      }
      expect(fake.actions().filter((a) => ['DescribeKeyPairs', 'AmazonSSM.GetParameter'].includes(a))).toEqual([]);
      // AND --deployment stopped the other deployment's box alone, and said so
      expect(stopOne.code).toBe(0);
      expect(stopOne.stdout).toBe(`trainium-spot in us-east-2, deployment ${OTHER}:\ni-0bbb: running -> stopping\n` +
        'The disks stay (storage is still billed); start again with: trainium-spot start\n');
      expect(fake.requests.filter((r) => r.action === 'StopInstances').map((r) => new URLSearchParams(r.body).get('InstanceId.1'))).toEqual(['i-0bbb']);
      expect(fake.boxes.map((b) => [b.id, b.state])).toEqual([['i-0aaa', 'running'], ['i-0bbb', 'stopping']]);
    } finally {
      fs.rmSync(userHome, { recursive: true, force: true });
    }
  });
});

describe('status as a child process when the calls beside DescribeInstances fail', () => {
  const CLOUDWATCH = 'GraniteServiceVersion20100801.GetMetricStatistics';
  const ASSOCIATIONS = 'AmazonSSM.DescribeInstanceAssociationsStatus';

  beforeEach(() => {
    fake.boxes = [{ id: 'i-0aaa', state: 'running' }, { id: 'i-0bbb', state: 'running' }];
  });

  test('GIVEN a box whose association failed WHEN status THEN its agent shows failed with the reason, the other success, exit 0', async () => {
    fake.associations = {
      'i-0aaa': {
        status: 'Failed', documentVersion: '3', executionDate: new Date('2026-12-01T15:02:00Z'),
        executionSummary: '1 out of 1 plugin processed, 0 success, 1 failed, 0 timedout, 0 skipped. ',
      },
    };

    const run = await trainiumSpot(['status']);
    const json = await trainiumSpot(['status', '--output', 'json']);

    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(tableCell(run.stdout, 'i-0aaa', 'Agent')).toBe('failed v3 at 2026-12-01 15:02Z');
    expect(run.stdout).toContain('\ni-0aaa: trainium-spot-agent failed: 1 out of 1 plugin processed, 0 success, 1 failed, 0 timedout, 0 skipped. ' +
      'Details: aws ssm describe-instance-associations-status --instance-id i-0aaa --region us-east-2\n');
    expect(run.stdout).not.toContain('i-0bbb: trainium-spot-agent failed');
    expect(tableCell(run.stdout, 'i-0bbb', 'Agent')).toMatch(/^success v1 at \d\d:\d\dZ$/);
    const report = JSON.parse(json.stdout) as StatusReport;
    expect(report.boxes[0].agent).toEqual({
      state: 'failed', ssmStatus: 'Failed', detailedStatus: 'Failed', errorCode: null, at: '2026-12-01T15:02:00.000Z',
      reason: '1 out of 1 plugin processed, 0 success, 1 failed, 0 timedout, 0 skipped', documentVersion: '3', associationVersion: '1',
    });
    expect(fake.requests.filter((r) => r.action === ASSOCIATIONS).map((r) => JSON.parse(r.body) as { InstanceId: string })
      .map((b) => b.InstanceId).sort()).toEqual(['i-0aaa', 'i-0aaa', 'i-0bbb', 'i-0bbb']); // one call per box and run
  });

  test('GIVEN a box that never registered with SSM WHEN status THEN its agent shows none, without a warning', async () => {
    fake.associations = { 'i-0bbb': 'unregistered' };

    const run = await trainiumSpot(['status']);

    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(tableCell(run.stdout, 'i-0bbb', 'Agent')).toBe('none');
  });

  test('GIVEN CloudWatch answers HTTP 500 WHEN status THEN the idle check shows "-" on both boxes, one warning line, exit 0', async () => {
    fake.failing = { [CLOUDWATCH]: 'http-500' };

    const run = await trainiumSpot(['status']);

    expect(run.code).toBe(0);
    expect(run.stderr).toBe('trainium-spot: warning: "-" under Idle check: cloudwatch:GetMetricStatistics in us-east-2 failed: ' +
      'InternalServerError: We encountered an internal error. Please try again.\n');
    expect(['i-0aaa', 'i-0bbb'].map((id) => tableCell(run.stdout, id, 'Idle check'))).toEqual(['-', '-']);
    expect(['i-0aaa', 'i-0bbb'].map((id) => tableCell(run.stdout, id, 'Agent'))).toEqual([
      expect.stringMatching(/^success v1 at /), expect.stringMatching(/^success v1 at /)]);
    expect(tableCell(run.stdout, 'i-0aaa', 'Spot $/h')).toBe('$0.4031');
    // The SDK retried each box's call before giving up: a 5xx may pass.
    expect(fake.actions().filter((a) => a === CLOUDWATCH).length).toBeGreaterThan(2);
  });

  test('GIVEN SSM denies DescribeInstanceAssociationsStatus WHEN status --output json THEN agent is null, failedCalls says why, one warning, exit 0', async () => {
    fake.failing = { [ASSOCIATIONS]: 'denied' };

    const run = await trainiumSpot(['status', '--output', 'json']);
    const table = await trainiumSpot(['status']);

    expect(run.code).toBe(0);
    const warning = 'access denied: your credentials may not call ssm:DescribeInstanceAssociationsStatus in us-east-2 ' +
      '(AccessDeniedException); allow the IAM action ssm:DescribeInstanceAssociationsStatus for your user or role';
    expect(run.stderr).toBe(`trainium-spot: warning: "-" under Agent: ${warning}\n`);
    const report = JSON.parse(run.stdout) as StatusReport;
    expect(report.boxes.map((b) => [b.instanceId, b.agent, b.idle?.verdict])).toEqual([['i-0aaa', null, 'busy'], ['i-0bbb', null, 'busy']]);
    expect(report.failedCalls).toEqual([{ action: 'ssm:DescribeInstanceAssociationsStatus', message: warning }]);
    expect(table.code).toBe(0);
    expect(['i-0aaa', 'i-0bbb'].map((id) => tableCell(table.stdout, id, 'Agent'))).toEqual(['-', '-']);
  });

  test('GIVEN EC2 answers the spot price with HTTP 500 WHEN status THEN the spot price shows "-", one warning line, exit 0', async () => {
    fake.failing = { DescribeSpotPriceHistory: 'http-500' };

    const run = await trainiumSpot(['status']);

    expect(run.code).toBe(0);
    expect(run.stderr).toBe('trainium-spot: warning: "-" under Spot $/h: ec2:DescribeSpotPriceHistory in us-east-2 failed: ' +
      'InternalError: An internal error has occurred.\n');
    expect(tableCell(run.stdout, 'i-0aaa', 'Spot $/h')).toBe('-');
  });

  test.each<[string, 'http-500' | 'denied', RegExp]>([
    ['answers HTTP 500', 'http-500', /^trainium-spot: ec2:DescribeInstances in us-east-2 failed: InternalError: An internal error has occurred\.\n$/],
    ['denies it', 'denied', /^trainium-spot: access denied: your credentials may not call ec2:DescribeInstances in us-east-2 \(UnauthorizedOperation\)/],
  ])('fails when EC2 %s for DescribeInstances: exit 2, one line, nothing else asked', async (_case, failure, stderr) => {
    fake.failing = { DescribeInstances: failure };

    const run = await trainiumSpot(['status']);

    expectFailure(run, stderr);
    expect(new Set(fake.actions())).toEqual(new Set(['DescribeInstances']));
  });
});
