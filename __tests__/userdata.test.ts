import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { parse as parseYaml } from 'yaml';
import { USER_DATA_LIMIT_BYTES } from '../src/catalog';
import { ConfigError, type ConfigInput, type IdleSettings, parseConfig } from '../src/config';
import { renderIdleConf, renderUserData, type RenderedUserData, type UserDataProps } from '../src/userdata';
import { packageRoot, readUserdataFile } from '../src/userdata/files';


const ROOT = path.resolve(__dirname, '..');
const SCRIPT_PATH = '/usr/local/sbin/trainium-spot-idle';
const TIMER_PATH = '/etc/systemd/system/trainium-spot-idle.timer';

interface WriteFile { path: string; owner: string; permissions: string; encoding?: string; content: string }
interface CloudConfig { write_files?: WriteFile[]; runcmd?: string[][] }

const idleWith = (idle: ConfigInput['idle'] = {}): IdleSettings => parseConfig({ idle }).idle;
const props = (idle: ConfigInput['idle'] = {}): UserDataProps => ({ name: 'trainium-spot', region: 'us-east-2', idle: idleWith(idle) });

/** The cloud-config text of either rendering, unpacking the gzip one. */
function cloudConfigText(rendered: RenderedUserData): string {
  return 'userData' in rendered
    ? rendered.userData
    : gunzipSync(Buffer.from(rendered.userDataBase64, 'base64')).toString('utf8');
}

function parse(rendered: RenderedUserData): CloudConfig {
  const text = cloudConfigText(rendered);
  expect(text.startsWith('#cloud-config\n')).toBe(true);
  // The yaml package (YAML 1.2, strict) stands in for cloud-init's PyYAML here.
  return parseYaml(text) as CloudConfig;
}

/** A write_files entry's content as it lands on the box. */
function fileOnBox(config: CloudConfig, filePath: string): string {
  const entry = config.write_files?.find((f) => f.path === filePath);
  if (!entry) throw new Error(`no write_files entry for ${filePath}`);
  return entry.encoding === 'gz+b64'
    ? gunzipSync(Buffer.from(entry.content, 'base64')).toString('utf8')
    : entry.content;
}

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

describe('renderUserData', () => {
  test('installs the check script, its service, timer, neuron-monitor feed, logrotate rule and idle.conf, and enables them', () => {
    // GIVEN
    const idle = idleWith();
    // WHEN
    const rendered = renderUserData({ name: 'trainium-spot', region: 'us-east-2', idle });
    // THEN
    const config = parse(rendered);
    expect(config.write_files?.map((f) => [f.path, f.owner, f.permissions])).toEqual([
      [SCRIPT_PATH, 'root:root', '0755'],
      ['/etc/systemd/system/trainium-spot-idle.service', 'root:root', '0644'],
      [TIMER_PATH, 'root:root', '0644'],
      ['/etc/systemd/system/trainium-spot-neuron-monitor.service', 'root:root', '0644'],
      ['/etc/trainium-spot/neuron-monitor.json', 'root:root', '0644'],
      ['/etc/logrotate.d/trainium-spot-idle', 'root:root', '0644'],
      ['/etc/trainium-spot/idle.conf', 'root:root', '0644'],
    ]);
    expect(fileOnBox(config, SCRIPT_PATH)).toBe(readUserdataFile('idle-check.sh'));
    expect(fileOnBox(config, '/etc/systemd/system/trainium-spot-idle.service'))
      .toBe(readUserdataFile('trainium-spot-idle.service'));
    expect(fileOnBox(config, '/etc/logrotate.d/trainium-spot-idle')).toBe(readUserdataFile('trainium-spot-idle.logrotate'));
    expect(fileOnBox(config, '/etc/trainium-spot/idle.conf')).toBe(renderIdleConf(idle, 'us-east-2'));
    expect(fileOnBox(config, '/etc/trainium-spot/neuron-monitor.json')).toBe(readUserdataFile('neuron-monitor.json'));
    expect(config.runcmd).toEqual([
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', '--now', 'trainium-spot-idle.timer', 'trainium-spot-neuron-monitor.service'],
    ]);
  });

  test('the neuron-monitor feed writes where the check reads, every 5 s', () => {
    // WHEN
    const config = parse(renderUserData(props()));
    const unit = fileOnBox(config, '/etc/systemd/system/trainium-spot-neuron-monitor.service');
    // THEN
    expect(unit).toMatch(/^StandardOutput=append:\/run\/trainium-spot\/neuron-monitor\.jsonl$/m);
    expect(unit).toMatch(/^ExecStart=\/opt\/aws\/neuron\/bin\/neuron-monitor -c \/etc\/trainium-spot\/neuron-monitor\.json$/m);
    expect(JSON.parse(fileOnBox(config, '/etc/trainium-spot/neuron-monitor.json')).period).toBe('5s');
    expect(readUserdataFile('idle-check.sh')).toContain('NEURON_REPORTS=${TS_NEURON_REPORTS:-$STATE_DIR/neuron-monitor.jsonl}');
  });

  test('the interruption watcher and its service are installed and enabled only when asked', () => {
    // WHEN
    const withWatcher = parse(renderUserData({ ...props(), interruptionWatcher: true }));
    const without = parse(renderUserData(props()));
    // THEN
    expect(fileOnBox(withWatcher, '/usr/local/sbin/trainium-spot-interruption')).toBe(readUserdataFile('interruption-watch.sh'));
    expect(fileOnBox(withWatcher, '/etc/systemd/system/trainium-spot-interruption.service'))
      .toMatch(/^ExecStart=\/usr\/local\/sbin\/trainium-spot-interruption$/m);
    expect(withWatcher.runcmd).toContainEqual(['systemctl', 'enable', '--now', 'trainium-spot-interruption.service']);
    expect(without.write_files?.map((f) => f.path)).not.toContain('/usr/local/sbin/trainium-spot-interruption');
  });

  test('the service runs the script where cloud-init puts it, once per timer tick', () => {
    // WHEN
    const service = fileOnBox(parse(renderUserData(props())), '/etc/systemd/system/trainium-spot-idle.service');
    // THEN
    expect(service).toMatch(new RegExp(`^ExecStart=${SCRIPT_PATH} check$`, 'm'));
    expect(service).toMatch(/^Type=oneshot$/m);
  });

  test('the timer is monotonic, with the check interval from the config and a 1 s accuracy', () => {
    // GIVEN / WHEN
    const byDefault = fileOnBox(parse(renderUserData(props())), TIMER_PATH);
    const everyFiveMinutes = fileOnBox(parse(renderUserData(props({ checkIntervalSeconds: 300 }))), TIMER_PATH);
    // THEN
    expect(byDefault).toMatch(/^OnBootSec=30s$/m);
    expect(byDefault).toMatch(/^OnUnitActiveSec=60s$/m);
    expect(byDefault).toMatch(/^AccuracySec=1s$/m);
    expect(byDefault).not.toMatch(/^OnCalendar=|@[A-Z_]+@/m);
    expect(everyFiveMinutes).toMatch(/^OnUnitActiveSec=300s$/m);
  });

  test('the default user data fits the 16 KB EC2 limit, with and without the spot additions', () => {
    // WHEN
    const sizes = [props(), { ...props(), interruptionWatcher: true, requireImdsv2OnBoot: true }].map((p) => {
      const rendered = renderUserData(p);
      return 'userData' in rendered ? Buffer.byteLength(rendered.userData) : Buffer.from(rendered.userDataBase64, 'base64').length;
    });
    // THEN
    for (const size of sizes) expect(size).toBeLessThanOrEqual(USER_DATA_LIMIT_BYTES);
  });

  test('a cloud-config gzipped whole carries its scripts as plain text, which compresses better than gzip in gzip', () => {
    // WHEN
    const config = parse(renderUserData({ ...props(), interruptionWatcher: true, requireImdsv2OnBoot: true }));
    // THEN
    expect(config.write_files?.every((f) => f.encoding === undefined)).toBe(true);
    expect(fileOnBox(config, SCRIPT_PATH)).toBe(readUserdataFile('idle-check.sh'));
  });

  test('user data over 16 KB is gzipped and base64-encoded, and unpacks to the whole cloud-config', () => {
    // GIVEN 80 patterns of 200 characters: 16 KB of patterns alone
    const patterns = Array.from({ length: 80 }, (_, i) => `python3 /home/ubuntu/project-${i}/`.padEnd(200, 'x'));
    // WHEN
    const rendered = renderUserData(props({ processPatterns: patterns }));
    // THEN
    expect('userDataBase64' in rendered).toBe(true);
    const zipped = Buffer.from((rendered as { userDataBase64: string }).userDataBase64, 'base64');
    expect(zipped.length).toBeLessThanOrEqual(USER_DATA_LIMIT_BYTES);
    const config = parse(rendered);
    expect(fileOnBox(config, SCRIPT_PATH)).toBe(readUserdataFile('idle-check.sh'));
    expect(fileOnBox(config, '/etc/trainium-spot/idle.conf')).toContain(`  '${patterns[79]}'\n`);
  });

  test('fails when the user data exceeds 16 KB even gzipped', () => {
    // GIVEN 120 hardly compressible patterns of 200 characters
    const idle = props({ processPatterns: noisyPatterns(120, 200) });
    // WHEN
    const message = problemWith(() => renderUserData(idle));
    // THEN
    expect(message).toMatch(/^idle\.processPatterns \(120 patterns, 24000 characters\) make the user data \d+ bytes even gzipped; EC2 allows 16384: use fewer or shorter patterns$/);
  });

  test('idle.enabled false installs nothing idle-related but is still a valid cloud-config', () => {
    // WHEN
    const rendered = renderUserData(props({ enabled: false }));
    // THEN
    expect('userData' in rendered).toBe(true);
    const text = cloudConfigText(rendered);
    expect(parse(rendered)).toEqual({});
    expect(text).not.toMatch(/write_files|runcmd|systemctl|idle-check|trainium-spot-idle|idle\.conf/);
  });

  test('renders the same bytes every time, plain and gzipped', () => {
    // GIVEN
    const plain = props();
    const large = props({ processPatterns: Array.from({ length: 80 }, (_, i) => `job-${i}-`.padEnd(200, 'y')) });
    // WHEN / THEN
    expect(renderUserData(plain)).toEqual(renderUserData(plain));
    expect(renderUserData(large)).toEqual(renderUserData(large));
    expect('userDataBase64' in renderUserData(large)).toBe(true);
  });

  test('fails when the name holds a line break', () => {
    const message = problemWith(() => renderUserData({ name: 'box\nruncmd: [reboot]', region: 'us-east-2', idle: idleWith() }));
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
      expect(bundled.renderUserData(props())).toEqual(renderUserData(props()));
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

describe('requireImdsv2OnBoot', () => {
  test('installs the first-boot script and runs it after the idle timer is enabled', () => {
    // WHEN
    const config = parse(renderUserData({ ...props(), requireImdsv2OnBoot: true }));
    // THEN
    const script = config.write_files!.find((f) => f.path === '/usr/local/sbin/trainium-spot-require-imdsv2')!;
    expect(script.permissions).toBe('0755');
    expect(script.content).toBe(readUserdataFile('require-imdsv2.sh'));
    expect(config.runcmd!.map((c) => c.join(' '))).toEqual([
      'systemctl daemon-reload', 'systemctl enable --now trainium-spot-idle.timer trainium-spot-neuron-monitor.service',
      '/usr/local/sbin/trainium-spot-require-imdsv2',
    ]);
  });

  test('works without the idle check too', () => {
    const config = parse(renderUserData({ ...props({ enabled: false }), requireImdsv2OnBoot: true }));
    expect(config.write_files!.map((f) => f.path)).toEqual(['/usr/local/sbin/trainium-spot-require-imdsv2']);
  });
});
