/**
 * /etc/trainium-spot/idle.conf, which idle-check.sh sources: the typed `idle` settings as bash
 * assignments, every user text single-quoted so that it reaches the check byte for byte and never runs.
 */
import { IDLE_METRIC } from '../catalog';
import { ConfigError, type IdleSettings } from '../config';

export const IDLE_CONF_PATH = '/etc/trainium-spot/idle.conf';

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
  slurm: 'DETECT_SLURM',
};

// ---------------------------------------------------------------------------------------------
// idle.conf
// ---------------------------------------------------------------------------------------------

/** A bash word that expands to exactly `value`: single quotes, with ' written as '\''. */
const shellQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** Plain decimal notation (never 1e-7), which is what the script's number check accepts. */
export const decimal = (n: number) => {
  const text = String(n);
  // String() switches to exponent notation below 1e-6; toFixed(20) never does (trailing zeros trimmed).
  return text.includes('e') ? n.toFixed(20).replace(/\.?0+$/, '') : text;
};

/** Characters that would end a line of idle.conf or are not allowed in YAML text. */
const UNSAFE_CHARACTER = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/;

const hex = (character: string) => character.charCodeAt(0).toString(16).padStart(4, '0');

export function assertSingleLine(field: string, value: string): void {
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
    `# ${IDLE_CONF_PATH}: settings of the idle check, written by the trainium-spot agent (State Manager)`,
    '# from the idle.* keys of the config. Bash syntax (the check sources it). A hand edit applies at the',
    '# next check and lasts until the next agent run (at most 30 minutes): change the config instead.',
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
    '# Each check publishes its verdict to METRIC_NAMESPACE/<this box\'s instance ARN>, the one namespace its',
    '# role allows; the CloudWatch backstop reads it there.',
    `PUBLISH_VERDICT=${idle.publishVerdict}`,
    `AWS_REGION_NAME=${shellQuote(region)}`,
    `METRIC_NAMESPACE=${shellQuote(IDLE_METRIC.namespaceRoot)}`,
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
