/**
 * The box's user data: cloud-init installs the idle auto-shutdown (idle-check.sh as
 * `trainium-spot-idle`, its systemd service and timer, the neuron-monitor feed, a logrotate rule),
 * writes /etc/trainium-spot/idle.conf from the typed `idle` config, and installs the spot interruption
 * watcher. The scripts are the real files beside this module, read at synth time.
 */
import { gzipSync } from 'node:zlib';
import { IDLE_METRIC, USER_DATA_LIMIT_BYTES } from '../catalog';
import { ConfigError, type IdleSettings } from '../config';
import { readUserdataFile } from './files';

export interface UserDataProps {
  /** The config's `name`; labels the user data so a reader of it knows which deployment wrote it. */
  readonly name: string;
  /** The config's `idle` settings. With `enabled: false` nothing idle-related is installed. */
  readonly idle: IdleSettings;
  /** The AWS region, where the box publishes its idle verdict. */
  readonly region: string;
  /**
   * Install the spot interruption watcher (IMDSv2 `spot/instance-action` and rebalance recommendation).
   * @default false
   */
  readonly interruptionWatcher?: boolean;
  /**
   * Have the box require IMDSv2 on itself at first boot: needed where EC2 takes no metadata options
   * at launch (spot requests).
   * @default false
   */
  readonly requireImdsv2OnBoot?: boolean;
  /**
   * What the login message (/etc/motd) says about the machine image.
   * @default - no login message is written
   */
  readonly loginMessage?: LoginMessage;
}

/** The machine image as the login message names it. */
export interface LoginMessage {
  /** The `image` setting and the preset it resolved to, e.g. `pytorch (pytorch-2.9)`. */
  readonly image: string;
  /** The command that activates the image's environment, or what to do where none is known. */
  readonly activate: string;
  readonly neuronSdk: string;
}

/** Plain text when it fits EC2's limit, otherwise gzipped (cloud-init unpacks it) and base64-encoded. */
export type RenderedUserData = { readonly userData: string } | { readonly userDataBase64: string };

// ---------------------------------------------------------------------------------------------
// Where things go on the box
// ---------------------------------------------------------------------------------------------

const TIMER_UNIT = 'trainium-spot-idle.timer';
const NEURON_MONITOR_UNIT = 'trainium-spot-neuron-monitor.service';
const INTERRUPTION_UNIT = 'trainium-spot-interruption.service';
const IDLE_CONF_PATH = '/etc/trainium-spot/idle.conf';

interface BoxFile {
  readonly path: string;
  readonly permissions: string;
  readonly content: string;
  /**
   * Shipped as gzip+base64: the commented script alone is larger than EC2's user data limit in plain
   * text. It lands on the box byte for byte, comments included.
   */
  readonly gzip?: boolean;
}

/** idle.conf keys of the detector switches; a detector added to the schema fails to compile here. */
const DETECTOR_FLAGS: Readonly<Record<keyof IdleSettings['detectors'], string>> = {
  ssh: 'DETECT_SSH',
  ssm: 'DETECT_SSM',
  multiplexers: 'DETECT_MULTIPLEXERS',
  neuron: 'DETECT_NEURON',
  gpu: 'DETECT_GPU',
  processes: 'DETECT_PROCESSES',
  cpu: 'DETECT_CPU',
  disk: 'DETECT_DISK',
  memory: 'DETECT_MEMORY',
  network: 'DETECT_NETWORK',
  keepalive: 'DETECT_KEEPALIVE',
  terminal: 'DETECT_TERMINAL',
};

// ---------------------------------------------------------------------------------------------
// idle.conf
// ---------------------------------------------------------------------------------------------

/** A bash word that expands to exactly `value`: single quotes, with ' written as '\''. */
const shellQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** Plain decimal notation (never 1e-7), which is what the script's number check accepts. */
const decimal = (n: number) => {
  const text = String(n);
  // String() switches to exponent notation below 1e-6; toFixed(20) never does (trailing zeros trimmed).
  return text.includes('e') ? n.toFixed(20).replace(/\.?0+$/, '') : text;
};

/** Characters that would end a line of idle.conf or are not allowed in YAML text. */
const UNSAFE_CHARACTER = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/;

const hex = (character: string) => character.charCodeAt(0).toString(16).padStart(4, '0');

function assertSingleLine(field: string, value: string): void {
  const found = UNSAFE_CHARACTER.exec(value);
  if (found) {
    // JSON.stringify leaves U+2028 and friends as they are, which would break the message's one line.
    const shown = JSON.stringify(value).replace(new RegExp(UNSAFE_CHARACTER, 'g'), (c) => `\\u${hex(c)}`);
    throw new ConfigError(`${field} ${shown} contains the control character U+${hex(found[0]).toUpperCase()}; ` +
      'allowed: printable characters on one line');
  }
}

/** The text of /etc/trainium-spot/idle.conf, which idle-check.sh sources. */
export function renderIdleConf(idle: IdleSettings, region: string): string {
  idle.processPatterns.forEach((pattern, i) => assertSingleLine(`idle.processPatterns[${i}]`, pattern));
  idle.ignorePatterns.forEach((pattern, i) => assertSingleLine(`idle.ignorePatterns[${i}]`, pattern));
  const detectorLines = (Object.keys(DETECTOR_FLAGS) as (keyof IdleSettings['detectors'])[])
    .map((detector) => `${DETECTOR_FLAGS[detector]}=${idle.detectors[detector]}`);
  return [
    `# ${IDLE_CONF_PATH}: settings of the idle check, written by cloud-init from the idle.* keys`,
    '# of the trainium-spot config. Bash syntax (the check sources it); edits apply at the next check.',
    `DRY_RUN=${idle.dryRun}`,
    '# The timer runs a check this often; a check waits at most this long for another to finish.',
    `CHECK_INTERVAL_SECONDS=${decimal(idle.checkIntervalSeconds)}`,
    '# Minutes on the boot clock with nothing counting before the box stops itself.',
    `IDLE_MINUTES=${decimal(idle.idleMinutes)}`,
    `BOOT_GRACE_MINUTES=${decimal(idle.bootGraceMinutes)}`,
    '# Sessions, multiplexers, matched processes and held memory stop counting this long after the last',
    '# sign of work or terminal input; 0 counts them for ever.',
    `MAX_IDLE_SESSION_HOURS=${decimal(idle.maxIdleSessionHours)}`,
    '# At or above a threshold counts as work. CPU is the share of all vCPUs; 1 KB = 1000 bytes.',
    `CPU_THRESHOLD_PERCENT=${decimal(idle.cpuThresholdPercent)}`,
    `DISK_THRESHOLD_KBPS=${decimal(idle.diskThresholdKBps)}`,
    `MEMORY_THRESHOLD_PERCENT=${decimal(idle.memoryThresholdPercent)}`,
    `NETWORK_THRESHOLD_KBPS=${decimal(idle.networkThresholdKBps)}`,
    `NEURON_UTILIZATION_THRESHOLD_PERCENT=${decimal(idle.neuronUtilizationThresholdPercent)}`,
    `GPU_UTILIZATION_THRESHOLD_PERCENT=${decimal(idle.gpuUtilizationThresholdPercent)}`,
    `KEEPALIVE_MINUTES=${decimal(idle.keepaliveMinutes)}`,
    ...detectorLines,
    '# Each check publishes its verdict here; the CloudWatch backstop reads it.',
    `PUBLISH_VERDICT=${idle.publishVerdict}`,
    `AWS_REGION_NAME=${shellQuote(region)}`,
    `METRIC_NAMESPACE=${shellQuote(IDLE_METRIC.namespace)}`,
    '# Extended regular expressions matched against what each process is: its program, then the script',
    '# (or -m module) of an interpreter, else its first argument, e.g. "python3 finetuning.py".',
    'PROCESS_PATTERNS=(',
    ...idle.processPatterns.map((pattern) => `  ${shellQuote(pattern)}`),
    ')',
    'IGNORE_PATTERNS=(',
    ...idle.ignorePatterns.map((pattern) => `  ${shellQuote(pattern)}`),
    ')',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// cloud-config
// ---------------------------------------------------------------------------------------------

/** Fills `@KEY@` placeholders of a unit file; a placeholder left over is a bug in this module. */
function fillTemplate(file: string, values: Readonly<Record<string, string>>): string {
  const text = readUserdataFile(file).replace(/@([A-Z_]+)@/g, (whole, key: string) => values[key] ?? whole);
  const left = /@[A-Z_]+@/.exec(text);
  if (left) throw new Error(`src/userdata/${file}: no value for the placeholder ${left[0]}`);
  return text;
}

/** Where `trainium-spot-idle` lands: `sudo trainium-spot-idle status` finds it on the default PATH. */
const IDLE_COMMAND_PATH = '/usr/local/sbin/trainium-spot-idle';
const INTERRUPTION_SCRIPT_PATH = '/usr/local/sbin/trainium-spot-interruption';

function boxFiles(idle: IdleSettings, region: string): BoxFile[] {
  return [
    { path: IDLE_COMMAND_PATH, permissions: '0755', content: readUserdataFile('idle-check.sh'), gzip: true },
    { path: '/etc/systemd/system/trainium-spot-idle.service', permissions: '0644', content: readUserdataFile('trainium-spot-idle.service') },
    {
      path: `/etc/systemd/system/${TIMER_UNIT}`,
      permissions: '0644',
      content: fillTemplate(TIMER_UNIT, { CHECK_INTERVAL_SECONDS: decimal(idle.checkIntervalSeconds) }),
    },
    { path: `/etc/systemd/system/${NEURON_MONITOR_UNIT}`, permissions: '0644', content: readUserdataFile(NEURON_MONITOR_UNIT) },
    { path: '/etc/trainium-spot/neuron-monitor.json', permissions: '0644', content: readUserdataFile('neuron-monitor.json') },
    { path: '/etc/logrotate.d/trainium-spot-idle', permissions: '0644', content: readUserdataFile('trainium-spot-idle.logrotate') },
    { path: IDLE_CONF_PATH, permissions: '0644', content: renderIdleConf(idle, region) },
  ];
}

function interruptionFiles(): BoxFile[] {
  return [
    { path: INTERRUPTION_SCRIPT_PATH, permissions: '0755', content: readUserdataFile('interruption-watch.sh'), gzip: true },
    { path: `/etc/systemd/system/${INTERRUPTION_UNIT}`, permissions: '0644', content: readUserdataFile(INTERRUPTION_UNIT) },
  ];
}

/** gzip with a zero timestamp, so the same input always gives the same bytes. */
const gzip = (text: string) => gzipSync(Buffer.from(text, 'utf8'), { level: 9 });

function writeFileEntry(file: BoxFile, innerGzip: boolean): string[] {
  const head = [`  - path: ${file.path}`, '    owner: root:root', `    permissions: '${file.permissions}'`];
  if (file.gzip && innerGzip) {
    return [...head, '    encoding: gz+b64', `    content: ${gzip(file.content).toString('base64')}`];
  }
  const body = file.content.replace(/\n$/, '').split('\n').map((line) => (line === '' ? '' : `      ${line}`));
  return [...head, '    content: |', ...body];
}

const IMDSV2_SCRIPT_PATH = '/usr/local/sbin/trainium-spot-require-imdsv2';

/**
 * The cloud-config. With `innerGzip` the large scripts travel gzipped inside it; without, they are plain
 * text, for a cloud-config that is gzipped whole (gzip of gzip+base64 saves little).
 */
function cloudConfig(props: UserDataProps, innerGzip: boolean): string {
  assertSingleLine('name', props.name);
  const files: BoxFile[] = [];
  const commands: string[] = [];
  const about: string[] = [];
  if (props.idle.enabled) {
    files.push(...boxFiles(props.idle, props.region));
    commands.push('  - [systemctl, daemon-reload]', `  - [systemctl, enable, --now, ${TIMER_UNIT}, ${NEURON_MONITOR_UNIT}]`);
    about.push(`# ${props.name}: the on-box idle auto-shutdown of trainium-spot (src/userdata/). It stops the box after`,
      `# ${props.idle.idleMinutes} idle minutes; sudo trainium-spot-idle status, journalctl -u trainium-spot-idle.`);
  } else {
    about.push(`# ${props.name}: the on-box idle auto-shutdown is off (idle.enabled: false); nothing of it is installed.`);
  }
  if (props.loginMessage) {
    const { image, activate, neuronSdk } = props.loginMessage;
    [image, activate, neuronSdk].forEach((value) => assertSingleLine('image', value));
    files.push({
      path: '/etc/motd',
      permissions: '0644',
      content: fillTemplate('trainium-spot-motd', { IMAGE: image, ACTIVATE: activate, NEURON_SDK: neuronSdk }),
    });
  }
  if (props.interruptionWatcher) {
    files.push(...interruptionFiles());
    if (!props.idle.enabled) commands.push('  - [systemctl, daemon-reload]');
    commands.push(`  - [systemctl, enable, --now, ${INTERRUPTION_UNIT}]`);
    about.push('# The interruption watcher warns every terminal and runs /etc/trainium-spot/on-interruption.d/ on a spot notice.');
  }
  if (props.requireImdsv2OnBoot) {
    files.push({ path: IMDSV2_SCRIPT_PATH, permissions: '0755', content: readUserdataFile('require-imdsv2.sh') });
    // Last: it may retry for minutes, and nothing else waits for it.
    commands.push(`  - [${IMDSV2_SCRIPT_PATH}]`);
    about.push('# At first boot the box requires IMDSv2 on itself (a spot request cannot set it at launch).');
  }
  if (files.length === 0) return ['#cloud-config', ...about, '{}', ''].join('\n');
  return [
    '#cloud-config',
    ...about,
    'write_files:',
    ...files.flatMap((file) => writeFileEntry(file, innerGzip)),
    ...(commands.length > 0 ? ['runcmd:', ...commands] : []),
    '',
  ].join('\n');
}

export function renderUserData(props: UserDataProps): RenderedUserData {
  const text = cloudConfig(props, true);
  if (Buffer.byteLength(text, 'utf8') <= USER_DATA_LIMIT_BYTES) return { userData: text };
  const zipped = gzip(cloudConfig(props, false));
  if (zipped.length <= USER_DATA_LIMIT_BYTES) return { userDataBase64: zipped.toString('base64') };
  const patterns = props.idle.processPatterns;
  throw new ConfigError(`idle.processPatterns (${patterns.length} patterns, ` +
    `${patterns.reduce((sum, p) => sum + p.length, 0)} characters) make the user data ${zipped.length} bytes ` +
    `even gzipped; EC2 allows ${USER_DATA_LIMIT_BYTES}: use fewer or shorter patterns`);
}
