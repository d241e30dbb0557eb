import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
// The module object itself (the namespace import's properties are read-only), for a spy the CLI sees.
import nodeFs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DescribeInstancesCommand, DescribeKeyPairsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { configPath } from '../../src/cli/commands/ssh-config';
import { SshConfigReport, SshReport } from '../../src/cli/report';
import { box, DEPLOYMENT_A, expectOneLine, runCli, runJson } from './cli-test-helpers';

const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);
const PRIVATE_KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----';
const PROXY = 'ProxyCommand=aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p --region us-east-2';

let home: string;
const env = (extra: Record<string, string> = {}) => ({ AWS_REGION: 'us-east-2', HOME: home, ...extra });
const keyPath = () => path.join(home, '.ssh', 'trainium-spot-key-0123456789abcdef0.pem');

beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-home-'));
  ec2.reset();
  ssm.reset();
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [box({ InstanceId: 'i-0aaa' })] }] });
  ec2.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [{ KeyName: 'trainium-spot-2025', KeyPairId: 'key-0123456789abcdef0' }] });
  ssm.on(GetParameterCommand).resolves({ Parameter: { Value: PRIVATE_KEY } });
});
afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

describe('ssh', () => {
  test('GIVEN no SSH CIDR WHEN ssh --print THEN it goes through Session Manager to the instance id with the cached key', async () => {
    const { code, json } = await runJson<SshReport>(['ssh', '--print'], { env: env() });

    expect(code).toBe(0);
    expect(json).toMatchObject({ instanceId: 'i-0aaa', route: 'session-manager' });
    expect(json.argv).toEqual(['ssh', '-i', keyPath(), '-o', 'IdentitiesOnly=yes', '-o', PROXY, '-o', 'StrictHostKeyChecking=accept-new', 'ubuntu@i-0aaa']);
    expect(ssm).toHaveReceivedCommandWith(GetParameterCommand, { Name: '/ec2/keypair/key-0123456789abcdef0', WithDecryption: true });
  });

  test('the key is fetched once, kept with mode 0600, and a second run reads the file', async () => {
    await runCli(['ssh', '--print'], { env: env() });
    fs.chmodSync(keyPath(), 0o644);
    await runCli(['ssh', '--print'], { env: env() });

    expect(fs.readFileSync(keyPath(), 'utf8')).toBe(`${PRIVATE_KEY}\n`);
    expect(fs.statSync(keyPath()).mode & 0o777).toBe(0o600);
    expect(ssm).toHaveReceivedCommandTimes(GetParameterCommand, 1);
    expect(fs.readdirSync(path.join(home, '.ssh'))).toEqual([path.basename(keyPath())]);
  });

  test('GIVEN an empty world-readable file at the key path WHEN ssh --print THEN the key lands there with mode 0600, and was never in a wider file', async () => {
    // GIVEN what a `touch` or an interrupted copy leaves: an empty file, readable by everyone
    fs.mkdirSync(path.join(home, '.ssh'), { mode: 0o700 });
    fs.writeFileSync(keyPath(), '', { mode: 0o644 });
    fs.chmodSync(keyPath(), 0o644);
    // and a record of the mode of whatever file is renamed into place, taken when it already holds the key
    const octal = (file: string) => (fs.statSync(file).mode & 0o777).toString(8);
    const renamedModes: string[] = [];
    const rename = nodeFs.renameSync;
    const renames = jest.spyOn(nodeFs, 'renameSync').mockImplementation((from, to) => {
      if (to === keyPath()) renamedModes.push(octal(String(from)));
      rename(from, to);
    });
    // WHEN
    const { code } = await runCli(['ssh', '--print'], { env: env() }).finally(() => renames.mockRestore());
    // THEN
    expect(code).toBe(0);
    expect(fs.readFileSync(keyPath(), 'utf8')).toBe(`${PRIVATE_KEY}\n`);
    expect(octal(keyPath())).toBe('600');
    expect(renamedModes).toEqual(['600']);
    expect(fs.readdirSync(path.join(home, '.ssh'))).toEqual([path.basename(keyPath())]);
  });

  test('GIVEN sshCidrs and sshPublicKey in the config file WHEN ssh --print THEN it goes to the public IP with the user\'s own key', async () => {
    const file = path.join(home, 'config.json');
    fs.writeFileSync(file, JSON.stringify({ sshCidrs: ['203.0.113.0/24'], sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample me@laptop' }));

    const run = await runCli(['ssh', '--print'], { env: env({ TRAINIUM_SPOT_CONFIG: file }) });

    expect(run.stdout).toBe('ssh ubuntu@203.0.113.10\n');
    expect(ssm).not.toHaveReceivedCommand(GetParameterCommand);
  });

  test('fails when no box is running: one line saying how to start it', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [box({ InstanceId: 'i-0aaa', state: 'stopped' })] }] });
    const run = await runCli(['ssh'], { env: env() });
    expect(run.code).toBe(2);
    expectOneLine(run.stderr);
    expect(run.stderr).toBe(`trainium-spot: no running box named trainium-spot in us-east-2, deployment ${DEPLOYMENT_A} (i-0aaa stopped); ` +
      'start it with: trainium-spot start\n');
  });
});

describe('ssh-config', () => {
  const userConfig = () => path.join(home, '.ssh', 'config');
  const managed = () => path.join(home, '.ssh', 'trainium-spot', 'trainium-spot.conf');
  const OWN_LINES = 'Host work\n  HostName work.example.com\n';

  test('GIVEN a user ssh config WHEN ssh-config runs twice and then --remove THEN it is written once, kept in place, and removed, the user\'s lines untouched', async () => {
    // GIVEN
    fs.mkdirSync(path.join(home, '.ssh'), { mode: 0o700 });
    fs.writeFileSync(userConfig(), OWN_LINES, { mode: 0o600 });
    // WHEN written
    const first = await runJson<SshConfigReport>(['ssh-config'], { env: env() });
    // THEN
    expect(first.json).toMatchObject({ action: 'written', file: managed(), hosts: [{ alias: 'trainium-spot', instanceId: 'i-0aaa' }] });
    expect(fs.readFileSync(managed(), 'utf8')).toBe(
      `# Written by trainium-spot ssh-config for trainium-spot in us-east-2, deployment ${DEPLOYMENT_A}; rewritten on every run.\n` +
      'Host trainium-spot\n' +
      '  HostName i-0aaa\n' +
      '  User ubuntu\n' +
      `  IdentityFile ${keyPath()}\n` +
      '  IdentitiesOnly yes\n' +
      '  ProxyCommand aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p --region us-east-2\n' +
      '  StrictHostKeyChecking accept-new\n');
    expect(fs.readFileSync(userConfig(), 'utf8')).toBe(
      '# trainium-spot: Host blocks of its boxes (trainium-spot ssh-config --remove takes them out)\n' +
      `Include trainium-spot/*.conf\n\n${OWN_LINES}`);
    expect(fs.statSync(userConfig()).mode & 0o777).toBe(0o600);

    // WHEN run again unchanged, then with a new instance id
    const second = await runJson<SshConfigReport>(['ssh-config'], { env: env() });
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [box({ InstanceId: 'i-0ccc' })] }] });
    const third = await runJson<SshConfigReport>(['ssh-config'], { env: env() });
    // THEN one Include line, the block rewritten in place
    expect(second.json.action).toBe('unchanged');
    expect(third.json.action).toBe('written');
    expect(fs.readFileSync(managed(), 'utf8')).toContain('  HostName i-0ccc\n');
    expect(fs.readFileSync(managed(), 'utf8')).not.toContain('i-0aaa');
    expect(fs.readFileSync(userConfig(), 'utf8').match(/^Include /gm)).toHaveLength(1);

    // WHEN removed
    const removed = await runJson<SshConfigReport>(['ssh-config', '--remove'], { env: env() });
    // THEN the user's file is as it was
    expect(removed.json.action).toBe('removed');
    expect(fs.existsSync(managed())).toBe(false);
    expect(fs.existsSync(path.dirname(managed()))).toBe(false);
    expect(fs.readFileSync(userConfig(), 'utf8')).toBe(OWN_LINES);
  });

  test.each([
    ['/home/me/.ssh/key.pem', '/home/me/.ssh/key.pem'],
    ['/Users/Jo Smith/.ssh/key.pem', '"/Users/Jo Smith/.ssh/key.pem"'],
    ['/home/100%/.ssh/key.pem', '/home/100%%/.ssh/key.pem'],
    ['/home/a"b\\c/key.pem', '"/home/a\\"b\\\\c/key.pem"'],
  ])('an IdentityFile path %j is written as %s', (file, written) => {
    expect(configPath(file)).toBe(written);
  });

  test('GIVEN a home with a space and a % WHEN ssh-config THEN ssh itself reads the IdentityFile back whole', async () => {
    // GIVEN
    fs.rmSync(home, { recursive: true, force: true });
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium spot 100% home-'));
    // WHEN
    await runCli(['ssh-config'], { env: env() });
    // THEN
    expect(fs.readFileSync(managed(), 'utf8')).toContain(`  IdentityFile "${keyPath().replace(/%/g, '%%')}"\n`);
    expect(fs.existsSync(keyPath())).toBe(true);
    const resolved = spawnSync('ssh', ['-G', '-F', managed(), 'trainium-spot'], { encoding: 'utf8' });
    if (resolved.error) {
      // Printed, so a machine without an ssh client says so instead of passing silently.
      console.warn(`SKIPPED reading the file back with ssh -G: ${resolved.error.message}`);
      return;
    }
    // ssh -G prints IdentityFile before it expands %% to %
    expect(resolved.stdout.split('\n')).toContain(`identityfile ${keyPath().replace(/%/g, '%%')}`);
  });

  test('GIVEN no ~/.ssh at all WHEN ssh-config THEN it creates it, and two boxes get two Host aliases', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [box({ InstanceId: 'i-0aaa' }), box({ InstanceId: 'i-0bbb', state: 'stopped' })] }] });

    const { json } = await runJson<SshConfigReport>(['ssh-config'], { env: env() });

    expect(json.hosts).toEqual([{ alias: 'trainium-spot', instanceId: 'i-0aaa' }, { alias: 'trainium-spot-2', instanceId: 'i-0bbb' }]);
    expect(fs.statSync(path.join(home, '.ssh')).mode & 0o777).toBe(0o700);
    expect(fs.readFileSync(userConfig(), 'utf8')).toBe(
      '# trainium-spot: Host blocks of its boxes (trainium-spot ssh-config --remove takes them out)\nInclude trainium-spot/*.conf\n');
  });

  test('GIVEN ~/.ssh/config is a link into a dotfiles folder WHEN ssh-config THEN the link stays and its target gets the Include', async () => {
    const dotfile = path.join(home, 'dotfiles', 'ssh_config');
    fs.mkdirSync(path.dirname(dotfile));
    fs.writeFileSync(dotfile, OWN_LINES, { mode: 0o644 });
    fs.mkdirSync(path.join(home, '.ssh'), { mode: 0o700 });
    fs.symlinkSync(dotfile, userConfig());

    await runCli(['ssh-config'], { env: env() });

    expect(fs.lstatSync(userConfig()).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(dotfile, 'utf8')).toMatch(/^# trainium-spot: .*\nInclude trainium-spot\/\*\.conf\n\nHost work\n/);
    expect(fs.statSync(dotfile).mode & 0o777).toBe(0o644);
  });

  test('--remove with nothing written says so and touches nothing', async () => {
    const run = await runCli(['ssh-config', '--remove'], { env: env() });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`Nothing to remove: ${managed()} does not exist.\n`);
    expect(fs.existsSync(path.join(home, '.ssh'))).toBe(false);
    expect(ec2).not.toHaveReceivedCommand(DescribeInstancesCommand);
  });
});
