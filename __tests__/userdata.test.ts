import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { parse as parseYaml } from 'yaml';
import { SSM_DOCUMENT_LIMIT_BYTES } from '../src/catalog';
import { ConfigError, type ConfigInput, type IdleSettings, parseConfig } from '../src/config';
import { DATA_VOLUME_IDS_PARAMETER_PATTERN } from '../src/userdata/agent';
import { BOOTSTRAP_LIMIT_BYTES, renderAgentDocument, renderIdleConf, renderUserData, type AgentDocument, type AgentProps } from '../src/userdata';
import { packageRoot, packageVersion, readShippedCopy, readUserdataFile, shippedCopy } from '../src/userdata/files';
import { fileOnBox as fileIn, filesOf as filesIn, manifestOf as manifestIn } from './support/agent';

const manifestOf = (document: AgentDocument) => manifestIn(document.content);
const filesOf = (document: AgentDocument) => filesIn(document.content);
const fileOnBox = (document: AgentDocument, filePath: string) => fileIn(document.content, filePath);


const ROOT = path.resolve(__dirname, '..');
/** A program's code: its lines but the comment lines, which the shipped copy leaves out (shippedCopy). */
const codeLines = (text: string) => text.split('\n').filter((line) => !/^\s*#/.test(line));
const SCRIPT_PATH = '/usr/local/sbin/trainium-spot-idle';
const TIMER_PATH = '/etc/systemd/system/trainium-spot-idle.timer';
const ASSOCIATION = 'trainium-spot-agent';

const idleWith = (idle: ConfigInput['idle'] = {}): IdleSettings => parseConfig({ idle }).idle;
const props = (idle: ConfigInput['idle'] = {}): AgentProps => ({ name: 'trainium-spot', region: 'us-east-2', idle: idleWith(idle) });

/** The one line a bad input produces, or a failure when it is accepted. */
function problemWith(render: () => unknown): string {
  try {
    render();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('accepted');
}

/** Deterministic, hardly compressible patterns: `count` of `length` base64 characters of SHA-512 output. */
function noisyPatterns(count: number, length: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    let text = '';
    for (let block = 0; text.length < length; block++) {
      text += createHash('sha512').update(`${i}/${block}`).digest('base64');
    }
    return text.slice(0, length);
  });
}

describe('renderAgentDocument', () => {
  test('installs the check script, its service, timer, neuron-monitor feed, logrotate rule and idle.conf, and enables the units', () => {
    // GIVEN
    const idle = idleWith();
    // WHEN
    const document = renderAgentDocument({ name: 'trainium-spot', region: 'us-east-2', idle });
    // THEN
    expect(filesOf(document).map((f) => [f.path, f.mode])).toEqual([
      [SCRIPT_PATH, '0755'],
      ['/etc/systemd/system/trainium-spot-idle.service', '0644'],
      [TIMER_PATH, '0644'],
      ['/etc/systemd/system/trainium-spot-neuron-monitor.service', '0644'],
      ['/etc/trainium-spot/neuron-monitor.json', '0644'],
      ['/etc/logrotate.d/trainium-spot-idle', '0644'],
      ['/etc/trainium-spot/idle.conf', '0644'],
    ]);
    expect(document.files.map((f) => f.path)).toEqual(filesOf(document).map((f) => f.path));
    expect(fileOnBox(document, SCRIPT_PATH)).toBe(readShippedCopy('idle-check.sh'));
    expect(codeLines(fileOnBox(document, SCRIPT_PATH))).toEqual(codeLines(readUserdataFile('idle-check.sh')));
    expect(fileOnBox(document, '/etc/systemd/system/trainium-spot-idle.service')).toBe(readUserdataFile('trainium-spot-idle.service'));
    expect(fileOnBox(document, '/etc/logrotate.d/trainium-spot-idle')).toBe(readUserdataFile('trainium-spot-idle.logrotate'));
    expect(fileOnBox(document, '/etc/trainium-spot/idle.conf')).toBe(renderIdleConf(idle, 'us-east-2'));
    expect(fileOnBox(document, '/etc/trainium-spot/neuron-monitor.json')).toBe(readUserdataFile('neuron-monitor.json'));
    expect(manifestOf(document).filter((line) => !line.startsWith('file '))).toEqual([
      `version ${packageVersion()}`,
      'unit trainium-spot-idle.timer enable /etc/systemd/system/trainium-spot-idle.timer',
      'unit trainium-spot-neuron-monitor.service enable /etc/systemd/system/trainium-spot-neuron-monitor.service /etc/trainium-spot/neuron-monitor.json',
      'unit trainium-spot-interruption.service absent',
      'remove /usr/local/sbin/trainium-spot-interruption',
      'remove /etc/systemd/system/trainium-spot-interruption.service',
      'remove /usr/local/sbin/trainium-spot-data-volume',
      'instance-arn-prefix /etc/trainium-spot/instance-arn-prefix',
      'aws required',
    ]);
    expect(manifestOf(renderAgentDocument({ ...props(), loginUser: 'ubuntu' }))).toContain('authorized-key ubuntu');
  });

  test('is a Command document of schema 2.2 that runs the installer with the hash the association passes', () => {
    // WHEN
    const document = renderAgentDocument(props());
    const parsed = JSON.parse(document.content);
    // THEN
    expect(parsed.schemaVersion).toBe('2.2');
    expect(parsed.parameters.documentHash).toMatchObject({ type: 'String', allowedPattern: '^([0-9a-f]{64}|unknown)$' });
    expect(parsed.mainSteps).toHaveLength(1);
    expect(parsed.mainSteps[0]).toMatchObject({ action: 'aws:runShellScript', precondition: { StringEquals: ['platformType', 'Linux'] } });
    const command: string[] = parsed.mainSteps[0].inputs.runCommand;
    expect(`${command.join('\n')}\n`).toBe(document.command);
    expect(command[0]).toBe('#!/bin/sh');
    expect(command.at(-1)).toBe(
      `bash "$work/install-agent.sh" "$work/manifest" '{{ documentHash }}' '{{ sshPublicKey }}' '{{ instanceArnPrefix }}'`);
    // SSM fills {{ name }} anywhere in the step: the parameters are the only ones there, and each allows no quote.
    expect(document.content.match(/\{\{/g)).toHaveLength(3);
    expect(Object.values(parsed.parameters).map((p) => (p as { allowedPattern: string }).allowedPattern).join('')).not.toMatch(/'/);
    // The installer without its comment lines, every line of code as in src/userdata/install-agent.sh.
    expect(document.command).toContain(readShippedCopy('install-agent.sh'));
    const installer = command.slice(command.indexOf("cat >\"$work/install-agent.sh\" <<'TRAINIUM_SPOT_INSTALLER'") + 1, command.indexOf('TRAINIUM_SPOT_INSTALLER'));
    expect(codeLines(`${installer.join('\n')}\n`)).toEqual(codeLines(readUserdataFile('install-agent.sh')));
    expect(document.hash).toBe(createHash('sha256').update(document.content).digest('hex'));
    // Neither here-document can end early: no line of the installer or the manifest is a delimiter.
    const body = command.slice(command.indexOf("cat >\"$work/install-agent.sh\" <<'TRAINIUM_SPOT_INSTALLER'") + 1);
    expect(body.filter((line) => /^TRAINIUM_SPOT_(INSTALLER|MANIFEST)$/.test(line))).toEqual(['TRAINIUM_SPOT_INSTALLER', 'TRAINIUM_SPOT_MANIFEST']);
  });

  test('takes the ARN of the boxes up to the instance id from the association: the region\'s, in any partition, of a 12-digit account', () => {
    // WHEN
    const parameter = JSON.parse(renderAgentDocument(props()).content).parameters.instanceArnPrefix;
    const pattern = new RegExp(parameter.allowedPattern);
    // THEN no default: SSM refuses a run without it rather than install a check that cannot name its namespace
    expect(parameter).toEqual({ type: 'String', description: expect.stringContaining('verdict'), allowedPattern: '^arn:aws(-[a-z]+)*:ec2:us-east-2:[0-9]{12}:instance/$' });
    for (const good of ['arn:aws:ec2:us-east-2:123456789012:instance/', 'arn:aws-us-gov:ec2:us-east-2:123456789012:instance/']) {
      expect(good).toMatch(pattern);
    }
    for (const bad of ['', 'arn:aws:ec2:us-west-2:123456789012:instance/', 'arn:aws:ec2:us-east-2:12345678901:instance/',
      'arn:aws:ec2:us-east-2:123456789012:instance/i-0123', "arn:aws:ec2:us-east-2:123456789012:instance/'; reboot; '",
      'arn:aws:ec2:us-east-2:123456789012:instance/\n']) {
      expect(bad).not.toMatch(pattern);
    }
  });

  test('GIVEN a data volume THEN the mount script is installed and run with the mount point, the owner and the volume ids SSM fills in', () => {
    // WHEN
    const document = renderAgentDocument({ ...props(), dataVolume: { mountPoint: '/data', owner: 'ubuntu' } });
    const parsed = JSON.parse(document.content);
    // THEN
    expect(fileOnBox(document, '/usr/local/sbin/trainium-spot-data-volume')).toBe(readShippedCopy('data-volume.sh'));
    expect(codeLines(fileOnBox(document, '/usr/local/sbin/trainium-spot-data-volume'))).toEqual(codeLines(readUserdataFile('data-volume.sh')));
    expect(filesOf(document).find((f) => f.path === '/usr/local/sbin/trainium-spot-data-volume')?.mode).toBe('0755');
    expect(manifestOf(document)).toContain('run /usr/local/sbin/trainium-spot-data-volume /data ubuntu {{ dataVolumeIds }}');
    expect(manifestOf(document)).not.toContain('remove /usr/local/sbin/trainium-spot-data-volume');
    // Only volume ids, separated by single spaces, can reach the manifest: no quote, no shell syntax, no line break.
    expect(parsed.parameters.dataVolumeIds).toMatchObject({ type: 'String', default: '', allowedPattern: DATA_VOLUME_IDS_PARAMETER_PATTERN });
    const allowed = new RegExp(DATA_VOLUME_IDS_PARAMETER_PATTERN);
    expect(['', 'vol-0123456789abcdef0', 'vol-0123456789abcdef0 vol-01234567'].every((ids) => allowed.test(ids))).toBe(true);
    expect(['vol-0123456789abcdef0 ', 'vol-0123456789abcdef0;reboot', "vol-0123'", 'vol-0123456789abcdef0\nvol-01234567', 'snap-0123456789abcdef0']
      .some((ids) => allowed.test(ids))).toBe(false);
    expect(document.content.match(/\{\{/g)).toHaveLength(4);
  });

  test('GIVEN no data volume THEN the document has no dataVolumeIds parameter, and takes the mount script off boxes that had it', () => {
    const parsed = JSON.parse(renderAgentDocument(props()).content);
    expect(Object.keys(parsed.parameters)).toEqual(['documentHash', 'sshPublicKey', 'instanceArnPrefix']);
    expect(manifestOf(renderAgentDocument(props())).filter((line) => line.includes('data-volume'))).toEqual(['remove /usr/local/sbin/trainium-spot-data-volume']);
  });

  test('the largest default document (a spot box: the interruption watcher too) is 29.5 KB, 45 % of the 64 KB SSM allows; 32.5 KB, 50 % with a data volume', () => {
    // WHEN
    const largest = { ...props(), interruptionWatcher: true, loginUser: 'ubuntu' };
    const sizes = [props(), largest].map((p) => Buffer.byteLength(renderAgentDocument(p).content));
    const withVolume = Buffer.byteLength(renderAgentDocument({ ...largest, dataVolume: { mountPoint: '/data', owner: 'ubuntu' } }).content);
    // THEN
    // Well inside the limit: a quarter of it at least is left for settings (long process patterns).
    for (const size of [...sizes, withVolume]) expect(size).toBeLessThanOrEqual((3 / 4) * SSM_DOCUMENT_LIMIT_BYTES);
    expect(Math.round((100 * sizes[1]) / SSM_DOCUMENT_LIMIT_BYTES)).toBe(45);
    expect(Math.round((100 * withVolume) / SSM_DOCUMENT_LIMIT_BYTES)).toBe(50);
  });

  test('fails when the document exceeds 64 KB', () => {
    // GIVEN 200 hardly compressible patterns of 200 characters
    const idle = props({ processPatterns: noisyPatterns(200, 200) });
    // WHEN
    const message = problemWith(() => renderAgentDocument(idle));
    // THEN
    expect(message).toMatch(/^idle\.processPatterns \(200 patterns, 40000 characters\) make the agent's SSM document \d+ bytes; SSM allows 65536: use fewer or shorter patterns$/);
  });

  test('the neuron-monitor feed writes where the check reads, every 5 s', () => {
    // WHEN
    const document = renderAgentDocument(props());
    const unit = fileOnBox(document, '/etc/systemd/system/trainium-spot-neuron-monitor.service');
    // THEN
    expect(unit).toMatch(/^StandardOutput=append:\/run\/trainium-spot\/neuron-monitor\.jsonl$/m);
    expect(unit).toMatch(/^ExecStart=\/opt\/aws\/neuron\/bin\/neuron-monitor -c \/etc\/trainium-spot\/neuron-monitor\.json$/m);
    expect(JSON.parse(fileOnBox(document, '/etc/trainium-spot/neuron-monitor.json')).period).toBe('5s');
    expect(readUserdataFile('idle-check.sh')).toContain('NEURON_REPORTS=${TS_NEURON_REPORTS:-$STATE_DIR/neuron-monitor.jsonl}');
  });

  test('the interruption watcher and its service are installed and enabled only when asked', () => {
    // WHEN
    const withWatcher = renderAgentDocument({ ...props(), interruptionWatcher: true });
    const without = renderAgentDocument(props());
    // THEN
    expect(fileOnBox(withWatcher, '/usr/local/sbin/trainium-spot-interruption')).toBe(readShippedCopy('interruption-watch.sh'));
    expect(codeLines(fileOnBox(withWatcher, '/usr/local/sbin/trainium-spot-interruption'))).toEqual(codeLines(readUserdataFile('interruption-watch.sh')));
    expect(fileOnBox(withWatcher, '/etc/systemd/system/trainium-spot-interruption.service'))
      .toMatch(/^ExecStart=\/usr\/local\/sbin\/trainium-spot-interruption$/m);
    expect(manifestOf(withWatcher)).toContain('unit trainium-spot-interruption.service enable /usr/local/sbin/trainium-spot-interruption /etc/systemd/system/trainium-spot-interruption.service');
    expect(filesOf(without).map((f) => f.path)).not.toContain('/usr/local/sbin/trainium-spot-interruption');
    expect(manifestOf(without)).toContain('unit trainium-spot-interruption.service absent');
  });

  test('the service runs the script where the agent puts it, once per timer tick', () => {
    // WHEN
    const service = fileOnBox(renderAgentDocument(props()), '/etc/systemd/system/trainium-spot-idle.service');
    // THEN
    expect(service).toMatch(new RegExp(`^ExecStart=${SCRIPT_PATH} check$`, 'm'));
    expect(service).toMatch(/^Type=oneshot$/m);
  });

  test('the timer is monotonic, with the check interval from the config and a 1 s accuracy', () => {
    // GIVEN / WHEN
    const byDefault = fileOnBox(renderAgentDocument(props()), TIMER_PATH);
    const everyFiveMinutes = fileOnBox(renderAgentDocument(props({ checkIntervalSeconds: 300 })), TIMER_PATH);
    // THEN
    expect(byDefault).toMatch(/^OnBootSec=30s$/m);
    expect(byDefault).toMatch(/^OnUnitActiveSec=60s$/m);
    expect(byDefault).toMatch(/^AccuracySec=1s$/m);
    expect(byDefault).not.toMatch(/^OnCalendar=|@[A-Z_]+@/m);
    expect(everyFiveMinutes).toMatch(/^OnUnitActiveSec=300s$/m);
  });

  test('idle.enabled false removes everything idle-related from a box that had it, and needs no AWS CLI', () => {
    // WHEN
    const document = renderAgentDocument(props({ enabled: false }));
    // THEN
    expect(filesOf(document)).toEqual([]);
    expect(manifestOf(document)).toEqual(expect.arrayContaining([
      'unit trainium-spot-idle.timer absent', 'unit trainium-spot-neuron-monitor.service absent',
      `remove ${SCRIPT_PATH}`, `remove ${TIMER_PATH}`, 'remove /etc/trainium-spot/idle.conf', 'aws optional',
      'remove /etc/trainium-spot/instance-arn-prefix',
    ]));
    expect(document.command).toMatch(/^# trainium-spot: trainium-spot's box agent\. The idle check is off/m);
  });

  test('a box that publishes no verdict needs no AWS CLI, nor its instance ARN', () => {
    const manifest = manifestOf(renderAgentDocument(props({ publishVerdict: false })));
    expect(manifest).toContain('aws optional');
    expect(manifest).toContain('remove /etc/trainium-spot/instance-arn-prefix');
    expect(manifest.filter((line) => line.startsWith('instance-arn-prefix '))).toEqual([]);
  });

  test('renders the same bytes every time', () => {
    const large = props({ processPatterns: Array.from({ length: 80 }, (_, i) => `job-${i}-`.padEnd(200, 'y')) });
    expect(renderAgentDocument(props())).toEqual(renderAgentDocument(props()));
    expect(renderAgentDocument(large)).toEqual(renderAgentDocument(large));
    expect(renderAgentDocument(large).hash).not.toBe(renderAgentDocument(props()).hash);
  });

  test('fails when the name holds a line break', () => {
    const message = problemWith(() => renderAgentDocument({ name: 'box\nrm -rf /', region: 'us-east-2', idle: idleWith() }));
    expect(message).toBe('name "box\\nrm -rf /" contains the control character U+000A; allowed: printable characters on one line');
  });
});

describe('renderUserData', () => {
  test('a spot request box boots with only the IMDSv2 script, well under 4 KB', () => {
    // WHEN
    const { userData } = renderUserData({ name: 'trainium-spot', agentAssociationName: ASSOCIATION, requireImdsv2OnBoot: true });
    // THEN
    const size = Buffer.byteLength(userData);
    expect(size).toBeLessThanOrEqual(BOOTSTRAP_LIMIT_BYTES);
    expect(size).toBeLessThan(3000);
    const config = parseYaml(userData) as { write_files: { path: string; permissions: string; content: string }[]; runcmd: string[][] };
    expect(userData.startsWith('#cloud-config\n')).toBe(true);
    expect(config.write_files).toEqual([{
      path: '/usr/local/sbin/trainium-spot-require-imdsv2', owner: 'root:root', permissions: '0755', content: readUserdataFile('require-imdsv2.sh'),
    }]);
    expect(config.runcmd).toEqual([['/usr/local/sbin/trainium-spot-require-imdsv2']]);
    expect(userData).toContain(`the State Manager association ${ASSOCIATION}`);
  });

  test('a RunInstances box needs nothing before SSM: an empty cloud-config that says where its software comes from', () => {
    const { userData } = renderUserData({ name: 'trainium-spot', agentAssociationName: ASSOCIATION });
    expect(parseYaml(userData)).toEqual({});
    expect(userData).toMatch(/^#cloud-config\n(#.*\n)+\{\}\n$/);
    expect(userData).not.toMatch(/write_files|runcmd|idle\.conf/);
  });

  test('fails when the name holds a line break', () => {
    const message = problemWith(() => renderUserData({ name: 'box\nruncmd: [reboot]', agentAssociationName: ASSOCIATION }));
    expect(message).toBe('name "box\\nruncmd: [reboot]" contains the control character U+000A; ' +
      'allowed: printable characters on one line');
  });
});

describe('renderIdleConf', () => {
  test('the defaults render exactly as the fixture the bats tests run against', () => {
    // WHEN
    const conf = renderIdleConf(idleWith(), 'us-east-2');
    // THEN
    expect(conf).toBe(fs.readFileSync(path.join(__dirname, 'userdata', 'fixtures', 'idle.conf'), 'utf8'));
  });

  test('every setting lands in idle.conf; switched-off detectors render as false', () => {
    // GIVEN
    const idle = idleWith({
      dryRun: true,
      idleMinutes: 10,
      bootGraceMinutes: 10,
      maxIdleSessionHours: 0,
      cpuThresholdPercent: 2.5,
      diskThresholdKBps: 500,
      networkThresholdKBps: 0.0015,
      keepaliveMinutes: 90,
      publishVerdict: false,
      ignorePatterns: ['htop'],
      detectors: { gpu: false, memory: false, terminal: false },
    });
    // WHEN
    const conf = renderIdleConf(idle, 'eu-north-1');
    // THEN
    for (const line of [
      'DRY_RUN=true', 'IDLE_MINUTES=10', 'BOOT_GRACE_MINUTES=10', 'MAX_IDLE_SESSION_HOURS=0', 'CPU_THRESHOLD_PERCENT=2.5',
      'DISK_THRESHOLD_KBPS=500', 'NETWORK_THRESHOLD_KBPS=0.0015', 'KEEPALIVE_MINUTES=90', 'PUBLISH_VERDICT=false',
      "AWS_REGION_NAME='eu-north-1'", "METRIC_NAMESPACE='TrainiumSpot/Idle'", 'IGNORE_PATTERNS=(', "  'htop'",
      'DETECT_GPU=false', 'DETECT_MEMORY=false', 'DETECT_TERMINAL=false', 'DETECT_SSH=true', 'DETECT_DISK=true',
    ]) {
      expect(conf.split('\n')).toContain(line);
    }
  });

  test('hostile process patterns reach bash exactly as written, and nothing in them runs', () => {
    // GIVEN
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idle-conf-'));
    const marker = path.join(dir, 'pwned');
    const patterns = [
      `it's (train|eval) "quoted" | piped`,
      `$(touch ${marker}) \`touch ${marker}\` \${HOME} $HOME`,
      `'; touch ${marker}; echo '`,
      `back\\slash \\' and a tab\there`,
      `)`,
    ];
    const confFile = path.join(dir, 'idle.conf');
    fs.writeFileSync(confFile, renderIdleConf(idleWith({ processPatterns: patterns }), 'us-east-2'));
    // WHEN
    const out = execFileSync('bash', ['-c', 'set -eu; source "$1"; printf "%s\\0" "${PROCESS_PATTERNS[@]}"', 'bash', confFile]);
    // THEN
    expect(out.toString('utf8').split('\0').slice(0, -1)).toEqual(patterns);
    expect(fs.existsSync(marker)).toBe(false);
    fs.rmSync(dir, { recursive: true });
  });

  test('fails when a process pattern holds a line break or another control character', () => {
    // The config schema rejects these first; the renderer checks again for settings built by hand.
    const unchecked = (processPatterns: string[]): IdleSettings => ({ ...idleWith(), processPatterns });
    expect(problemWith(() => renderIdleConf(unchecked(['torchrun', 'a\nb']), 'us-east-2')))
      .toBe('idle.processPatterns[1] "a\\nb" contains the control character U+000A; allowed: printable characters on one line');
    expect(problemWith(() => renderIdleConf(unchecked(['x\u2028y']), 'us-east-2')))
      .toBe('idle.processPatterns[0] "x\\u2028y" contains the control character U+2028; allowed: printable characters on one line');
  });
});

describe('files', () => {
  test('the package root is found from src/userdata and from dist/, where the bundle runs', () => {
    expect(packageRoot(path.join(ROOT, 'src', 'userdata'))).toBe(ROOT);
    expect(packageRoot(path.join(ROOT, 'dist'))).toBe(ROOT);
  });

  test('fails when no trainium-spot package.json is above the start directory', () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'no-package-'));
    expect(() => packageRoot(outside)).toThrow(`cannot find the package.json of trainium-spot at or above ${outside}`);
    fs.rmSync(outside, { recursive: true });
  });

  test('bundled by esbuild into dist/, the renderer still reads src/userdata and renders the same', async () => {
    // GIVEN the module bundled the way scripts/build.mjs bundles main.ts
    const dist = path.join(ROOT, 'dist');
    const distExisted = fs.existsSync(dist);
    fs.mkdirSync(dist, { recursive: true });
    const outdir = fs.mkdtempSync(path.join(dist, '.userdata-test-'));
    try {
      await build({
        entryPoints: [path.join(ROOT, 'src', 'userdata', 'index.ts')],
        outfile: path.join(outdir, 'userdata.js'),
        bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'silent',
      });
      // WHEN
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const bundled: typeof import('../src/userdata') = require(path.join(outdir, 'userdata.js'));
      // THEN
      expect(bundled.renderAgentDocument(props())).toEqual(renderAgentDocument(props()));
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
      if (!distExisted) {
        try {
          fs.rmdirSync(dist);
        } catch {
          // a build wrote to dist/ meanwhile: leave it
        }
      }
    }
  });
});

describe('shippedCopy', () => {
  /** What bash's parser makes of a program: the program as the body of a function, printed back by `declare -f`. */
  const parsedByBash = (text: string): string => execFileSync('bash', ['-c', 'shopt -s extglob; eval "__program() {\n$1\n}" && declare -f __program', '_', text], { encoding: 'utf8' });
  const userdataPrograms = (dir: string) => fs.readdirSync(path.join(ROOT, 'src/userdata', dir)).filter((f) => f.endsWith('.sh')).map((f) => path.posix.join(dir, f));

  test('drops comment lines, keeps the shebang and every other line, and names the source', () => {
    expect(shippedCopy('cluster/x.sh', '#!/bin/sh\n# doc\n  # more\necho "#not" # trailing\n\n')).toBe(
      '#!/bin/sh\n# x.sh: from trainium-spot, documented in src/userdata/cluster/x.sh\necho "#not" # trailing\n\n');
    expect(shippedCopy('u.timer', '# doc\n[Timer]\nOnBootSec=1min\n')).toBe(
      '# u.timer: from trainium-spot, documented in src/userdata/u.timer\n[Timer]\nOnBootSec=1min\n');
  });

  test('keeps here-strings, shifts in arithmetic, and cuts comment lines inside a command substitution', () => {
    const text = 'read -r x <<< "$y"\necho $((1 << 3)) "$(( (2) << 1 ))"\n((x <<= 1))\nv=$(\n  # why\n  echo "${#y}" \'#\'\n)\n';
    expect(shippedCopy('s.sh', text)).toBe(`# s.sh: from trainium-spot, documented in src/userdata/s.sh\n${text.replace('  # why\n', '')}`);
  });

  test.each([
    ['a here-document', 'cat << EOF\n# data\nEOF\n', /^src\/userdata\/h\.sh:1: a here-document;/],
    ['a here-document with <<-', 'x=1\ncat <<-EOF\nEOF\n', /^src\/userdata\/h\.sh:2: a here-document;/],
    ['a comment line inside a double-quoted string', '#!/bin/sh\necho "a\n# b\n"\n', /^src\/userdata\/h\.sh:3: a comment line inside double;/],
    ['a comment line inside a single-quoted string', "echo 'a\n  # b\n'\n", /^src\/userdata\/h\.sh:2: a comment line inside single;/],
    ['a comment line inside $\'...\'', "echo $'a\\'\n# b\n'\n", /^src\/userdata\/h\.sh:2: a comment line inside ansi;/],
    ['a comment line after a line continuation', 'echo a\\\n# b\n', /^src\/userdata\/h\.sh:2: a comment line after a line continuation;/],
    ['quoting open at the end of the file', 'echo "a\n', /^src\/userdata\/h\.sh:2: double open at the end of the file;/],
  ])('fails on %s', (_, text, message) => {
    expect(() => shippedCopy('h.sh', text)).toThrow(message);
  });

  test('the proof below can fail: bash\'s parser drops comments, and keeps a # line inside a string', () => {
    expect(parsedByBash('echo a\n# b\necho c\n')).toBe(parsedByBash('echo a\necho c\n'));
    expect(parsedByBash('echo "a\n# b\n"\n')).not.toBe(parsedByBash('echo "a\n"\n'));
  });

  test('every shipped program is, to bash\'s parser, its source: the same program without the comments', () => {
    const programs = [...userdataPrograms('.'), ...userdataPrograms('cluster')].filter((file) => file !== 'agent-command.sh');
    expect(programs).toEqual(expect.arrayContaining(['idle-check.sh', 'install-agent.sh', 'data-volume.sh', 'interruption-watch.sh', 'cluster/lib.sh', 'cluster/node-setup.sh']));
    for (const file of programs) {
      const source = readUserdataFile(file);
      const copy = readShippedCopy(file);
      expect(copy.length).toBeLessThan(source.length);
      expect(codeLines(copy)).toEqual(codeLines(source));
      expect([file, parsedByBash(copy)]).toEqual([file, parsedByBash(source)]);
    }
    // The document's wrapper is not shipped so: its here-documents carry the installer and the manifest.
    expect(() => readShippedCopy('agent-command.sh')).toThrow(/^src\/userdata\/agent-command\.sh:8: a here-document;/);
  });
});
