/**
 * The box agent: everything a box runs for trainium-spot (the idle check, its service and timer, the
 * Neuron monitor feed, a logrotate rule, idle.conf, the spot interruption watcher, the login message),
 * delivered by AWS Systems Manager State Manager as one Command document. The document runs
 * install-agent.sh with a manifest of the files; src/constructs/box-agent.ts associates it with the boxes.
 * Unlike user data it reaches running boxes: a changed setting or script is installed on every box of
 * the stack without replacing any of them.
 *
 * The shell programs, the installer among them, go without their comment lines (shippedCopy in files.ts): with
 * them the cluster head's document, which holds the idle check too, fills SSM's 64 KB and leaves no room for
 * settings. Units, settings and the login message go as they are.
 */
import { createHash } from 'node:crypto';
import { SSM_DOCUMENT_LIMIT_BYTES, verdictNamespace } from '../catalog';
import { ConfigError, type IdleSettings } from '../config';
import { fillTemplate, packageVersion, packed, readShippedCopy, readUserdataFile } from './files';
import { IDLE_CONF_PATH, assertSingleLine, decimal, renderIdleConf } from './idle-conf';

export interface AgentProps {
  /** The config's `name`; labels the document so a reader of it knows which deployment wrote it. */
  readonly name: string;
  /** The config's `idle` settings. With `enabled: false` nothing idle-related is installed, and a box that had it loses it. */
  readonly idle: IdleSettings;
  /** The AWS region, where the box publishes its idle verdict. */
  readonly region: string;
  /**
   * Install the spot interruption watcher (IMDSv2 `spot/instance-action` and rebalance recommendation).
   * @default false
   */
  readonly interruptionWatcher?: boolean;
  /**
   * What the login message (/etc/motd) says about the machine image.
   * @default - no login message is written
   */
  readonly loginMessage?: LoginMessage;
  /**
   * The user whose authorized_keys gets the stack's public key, which the association passes as the
   * `sshPublicKey` parameter: a new key reaches running boxes, which keep the key pair they launched with.
   * @default - no key is installed by the agent
   */
  readonly loginUser?: string;
  /**
   * Mount the stack's data volume: the association passes the ids of every box's volume as
   * `dataVolumeIds`, and the agent mounts the one attached to this box (src/userdata/data-volume.sh).
   * @default - no data volume: the mount script is taken off boxes that had it
   */
  readonly dataVolume?: DataVolumeMount;
}

/** Where the agent mounts the data volume, and who owns a filesystem it makes. */
export interface DataVolumeMount {
  readonly mountPoint: string;
  /** The user a newly made filesystem belongs to (an existing one keeps its owners). */
  readonly owner: string;
}

/** The machine image as the login message names it. */
export interface LoginMessage {
  /** The `image` setting and the preset it resolved to, e.g. `pytorch (pytorch-2.9)`. */
  readonly image: string;
  /** The command that activates the image's environment, or what to do where none is known. */
  readonly activate: string;
  readonly neuronSdk: string;
}

/** A file the agent keeps on the box, exactly as it lands there. */
export interface AgentFile {
  readonly path: string;
  readonly mode: string;
  readonly content: string;
}

export interface AgentDocument {
  /** The document's content (JSON), as SSM stores it. */
  readonly content: string;
  /**
   * SHA-256 of `content`, hex. The association passes it to the document as `documentHash`: a changed
   * document changes the association, and State Manager runs an updated association at once. The
   * association passes `sshPublicKey` and `instanceArnPrefix` too.
   */
  readonly hash: string;
  /** The shell script the document runs (its `runCommand` lines joined). */
  readonly command: string;
  /** What the installer writes, in order. */
  readonly files: readonly AgentFile[];
}

// ---------------------------------------------------------------------------------------------
// Where things go on the box
// ---------------------------------------------------------------------------------------------

const UNIT_DIR = '/etc/systemd/system';
const TIMER_UNIT = 'trainium-spot-idle.timer';
const NEURON_MONITOR_UNIT = 'trainium-spot-neuron-monitor.service';
const INTERRUPTION_UNIT = 'trainium-spot-interruption.service';
/** Where `trainium-spot-idle` lands: `sudo trainium-spot-idle status` finds it on the default PATH. */
export const IDLE_COMMAND_PATH = '/usr/local/sbin/trainium-spot-idle';
const INTERRUPTION_SCRIPT_PATH = '/usr/local/sbin/trainium-spot-interruption';
const NEURON_MONITOR_SETTINGS_PATH = '/etc/trainium-spot/neuron-monitor.json';
/** Where the installer keeps the `instanceArnPrefix` parameter; idle-check.sh reads it (TS_INSTANCE_ARN_PREFIX_FILE). */
export const INSTANCE_ARN_PREFIX_PATH = '/etc/trainium-spot/instance-arn-prefix';
const DATA_VOLUME_SCRIPT_PATH = '/usr/local/sbin/trainium-spot-data-volume';

/** A feature's files and the unit that runs them (restarted when one of `watched` changed). */
export interface Feature {
  readonly files: readonly AgentFile[];
  readonly units: readonly { readonly name: string; readonly watched: readonly string[] }[];
}

/**
 * The idle check: its script, timer and service, the Neuron monitor feed, a logrotate rule and idle.conf. The box
 * agent installs it, and the cluster's head agent (src/cluster/head-agent.ts) with its own settings.
 */
export function idleCheckFeature(idle: IdleSettings, region: string): Feature {
  const file = (path: string, mode: string, content: string): AgentFile => ({ path, mode, content });
  return {
    files: [
      file(IDLE_COMMAND_PATH, '0755', readShippedCopy('idle-check.sh')),
      file(`${UNIT_DIR}/trainium-spot-idle.service`, '0644', readUserdataFile('trainium-spot-idle.service')),
      file(`${UNIT_DIR}/${TIMER_UNIT}`, '0644', fillTemplate(TIMER_UNIT, { CHECK_INTERVAL_SECONDS: decimal(idle.checkIntervalSeconds) })),
      file(`${UNIT_DIR}/${NEURON_MONITOR_UNIT}`, '0644', readUserdataFile(NEURON_MONITOR_UNIT)),
      file(NEURON_MONITOR_SETTINGS_PATH, '0644', readUserdataFile('neuron-monitor.json')),
      file('/etc/logrotate.d/trainium-spot-idle', '0644', readUserdataFile('trainium-spot-idle.logrotate')),
      file(IDLE_CONF_PATH, '0644', renderIdleConf(idle, region)),
    ],
    units: [
      // The check itself is a oneshot the timer starts afresh: a new script or idle.conf needs no restart.
      { name: TIMER_UNIT, watched: [`${UNIT_DIR}/${TIMER_UNIT}`] },
      { name: NEURON_MONITOR_UNIT, watched: [`${UNIT_DIR}/${NEURON_MONITOR_UNIT}`, NEURON_MONITOR_SETTINGS_PATH] },
    ],
  };
}

function interruptionFeature(): Feature {
  const unitPath = `${UNIT_DIR}/${INTERRUPTION_UNIT}`;
  return {
    files: [
      { path: INTERRUPTION_SCRIPT_PATH, mode: '0755', content: readShippedCopy('interruption-watch.sh') },
      { path: unitPath, mode: '0644', content: readUserdataFile(INTERRUPTION_UNIT) },
    ],
    units: [{ name: INTERRUPTION_UNIT, watched: [INTERRUPTION_SCRIPT_PATH, unitPath] }],
  };
}

function dataVolumeFeature(): Feature {
  return { files: [{ path: DATA_VOLUME_SCRIPT_PATH, mode: '0755', content: readShippedCopy('data-volume.sh') }], units: [] };
}

// ---------------------------------------------------------------------------------------------
// The manifest and the document
// ---------------------------------------------------------------------------------------------

/** The `sshPublicKey` parameter: empty, or a key's type and base64 body, which hold no shell syntax. */
export const SSH_PUBLIC_KEY_PARAMETER_PATTERN = '^((ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3})?$';

/**
 * The `instanceArnPrefix` parameter: `arn:<partition>:ec2:<region>:<account>:instance/`, the partition as AWS
 * spells them (`aws`, `aws-cn`, `aws-us-gov`: the pattern AWS Resource Groups gives ARNs,
 * https://docs.aws.amazon.com/ARG/latest/APIReference/API_ResourceIdentifier.html, checked 2026-12-07), this
 * stack's region and a 12-digit account; nothing a shell would read as syntax.
 *
 * Why the association passes it: the idle check must name the namespace its role allows,
 * TrainiumSpot/Idle/<its instance ARN>, and never calls the instance metadata service. The instance id is on
 * disk (cloud-init's /var/lib/cloud/data/instance-id); the account is only in cloud-init's
 * /run/cloud-init/instance-data.json, under `ds.dynamic.instance_identity.document`, a part cloud-init calls
 * experimental, "may change in subsequent releases"
 * (https://github.com/canonical/cloud-init/blob/main/doc/rtd/explanation/instancedata.rst, checked 2026-12-07),
 * and JSON the check would parse every minute. Terraform knows partition and account at plan time
 * (aws_partition, aws_caller_identity) and builds the alarms' namespaces from the same values, so the box
 * and its alarms cannot disagree.
 */
function instanceArnPrefixPattern(region: string): string {
  return `^arn:aws(-[a-z]+)*:ec2:${region}:[0-9]{12}:instance/$`;
}

/** The `instanceArnPrefix` parameter of an installer document whose idle check publishes from `whose` instances. */
export function instanceArnPrefixParameter(region: string, whose: string): DocumentParameter {
  return {
    type: 'String',
    description: `The ${whose} ARN up to the instance id: each publishes its idle verdict to ${verdictNamespace('<its ARN>')}.`,
    // No default: SSM refuses a run without it rather than install a check that cannot name its namespace.
    allowedPattern: instanceArnPrefixPattern(region),
  };
}

/**
 * The `dataVolumeIds` parameter: EBS volume ids separated by single spaces. SSM puts the value into the
 * manifest as is, where the installer splits it into the mount script's arguments.
 */
export const DATA_VOLUME_IDS_PARAMETER_PATTERN = '^(vol-[0-9a-f]{8,17}( vol-[0-9a-f]{8,17})*)?$';
const DATA_VOLUME_IDS_PARAMETER = 'dataVolumeIds';

/** The manifest lines that install a feature: its files (user text only ever inside base64), then its units. */
export function featureLines(feature: Feature): string[] {
  return [
    ...feature.files.map((f) => `file ${f.path} ${f.mode} ${packed(f.content)}`),
    ...feature.units.map((u) => `unit ${u.name} enable ${u.watched.join(' ')}`),
  ];
}

/**
 * A feature's part of a manifest: when wanted, its files and units (and the files in `files`); when not, it is
 * taken off instances that had it: units stopped first, then their files.
 */
export function featureManifest(feature: Feature, wanted: boolean): { files: AgentFile[]; lines: string[] } {
  if (wanted) return { files: [...feature.files], lines: featureLines(feature) };
  return {
    files: [],
    lines: [...feature.units.map((u) => `unit ${u.name} absent`), ...feature.files.map((f) => `remove ${f.path}`)],
  };
}

/** Whether the idle check publishes its verdict, for which it needs its instance ARN and the AWS CLI. */
export const publishesVerdict = (idle: IdleSettings): boolean => idle.enabled && idle.publishVerdict;

/** The manifest line that keeps (or takes off) the instance ARN prefix the idle check names its namespace with. */
export function instanceArnPrefixLine(idle: IdleSettings): string {
  return publishesVerdict(idle) ? `instance-arn-prefix ${INSTANCE_ARN_PREFIX_PATH}` : `remove ${INSTANCE_ARN_PREFIX_PATH}`;
}

/** The installer's instructions (see install-agent.sh): only paths, modes, unit names and base64. */
function manifest(props: AgentProps, version: string): { lines: string[]; files: AgentFile[] } {
  const lines = [`version ${version}`];
  const files: AgentFile[] = [];
  const add = (part: { files: AgentFile[]; lines: string[] }) => {
    files.push(...part.files);
    lines.push(...part.lines);
  };
  const want = (feature: Feature) => add(featureManifest(feature, true));
  const unwant = (feature: Feature) => add(featureManifest(feature, false));
  add(featureManifest(idleCheckFeature(props.idle, props.region), props.idle.enabled));
  if (props.interruptionWatcher) want(interruptionFeature());
  else unwant(interruptionFeature());
  if (props.dataVolume) {
    const { mountPoint, owner } = props.dataVolume;
    want(dataVolumeFeature());
    // SSM fills in the ids before the box's sh reads the manifest.
    lines.push(`run ${DATA_VOLUME_SCRIPT_PATH} ${mountPoint} ${owner} {{ ${DATA_VOLUME_IDS_PARAMETER} }}`);
  } else {
    unwant(dataVolumeFeature());
  }
  if (props.loginMessage) {
    const { image, activate, neuronSdk } = props.loginMessage;
    [image, activate, neuronSdk].forEach((value) => assertSingleLine('image', value));
    want({
      files: [{ path: '/etc/motd', mode: '0644', content: fillTemplate('trainium-spot-motd', { IMAGE: image, ACTIVATE: activate, NEURON_SDK: neuronSdk }) }],
      units: [],
    });
  }
  if (props.loginUser !== undefined) lines.push(`authorized-key ${props.loginUser}`);
  // Publishing the verdict is the one thing on the box that needs its ARN, and the AWS CLI.
  lines.push(instanceArnPrefixLine(props.idle));
  lines.push(`aws ${publishesVerdict(props.idle) ? 'required' : 'optional'}`);
  return { lines, files };
}

export function renderAgentDocument(props: AgentProps): AgentDocument {
  assertSingleLine('name', props.name);
  const { lines, files } = manifest(props, packageVersion());
  const about = props.idle.enabled
    ? `${props.name}: trainium-spot's box agent. The idle check stops the box after ${decimal(props.idle.idleMinutes)} idle minutes; ` +
      'sudo trainium-spot-idle status, journalctl -u trainium-spot-idle.'
    : `${props.name}: trainium-spot's box agent. The idle check is off (idle.enabled: false).`;
  const document = renderInstallerDocument({
    about,
    description: `${props.name}: installs and keeps trainium-spot's box agent (idle check, interruption watcher, settings). Rendered by trainium-spot; change the config, not this document.`,
    manifest: lines,
    files,
    parameters: {
      sshPublicKey: {
        type: 'String',
        description: "The stack's public SSH key (type and key, no comment), authorized for the login user.",
        default: '',
        // Only what an OpenSSH public key is made of: SSM puts the value into the shell command as is.
        allowedPattern: SSH_PUBLIC_KEY_PARAMETER_PATTERN,
      },
      instanceArnPrefix: instanceArnPrefixParameter(props.region, "boxes'"),
      ...(props.dataVolume ? {
        [DATA_VOLUME_IDS_PARAMETER]: {
          type: 'String',
          description: "The ids of the stack's data volumes, one per box, separated by spaces; the agent mounts the one attached to the box.",
          default: '',
          allowedPattern: DATA_VOLUME_IDS_PARAMETER_PATTERN,
        },
      } : {}),
    },
    installerArguments: ['sshPublicKey', 'instanceArnPrefix'],
  });
  return fitsSsm(document, props.idle, "the agent's SSM document");
}

/**
 * The document, when SSM takes it; else the one line that blames what a config can grow: its idle process patterns
 * (in idle.conf), beside files of our own.
 */
export function fitsSsm(document: AgentDocument, idle: IdleSettings, what: string): AgentDocument {
  const size = Buffer.byteLength(document.content, 'utf8');
  if (size > SSM_DOCUMENT_LIMIT_BYTES) {
    const patterns = idle.processPatterns;
    throw new ConfigError(`idle.processPatterns (${patterns.length} patterns, ${patterns.reduce((sum, p) => sum + p.length, 0)} characters) ` +
      `make ${what} ${size} bytes; SSM allows ${SSM_DOCUMENT_LIMIT_BYTES}: use fewer or shorter patterns`);
  }
  return document;
}

/** An SSM parameter of a Command document (schema 2.2), as the document declares it. */
export interface DocumentParameter {
  readonly type: 'String';
  readonly description: string;
  /** @default - none: SSM refuses a run that does not pass the parameter */
  readonly default?: string;
  /** The whole value must match: SSM puts it into the shell command as is. */
  readonly allowedPattern: string;
}

/** An installer argument that is empty: install-agent.sh's arguments are positional. */
export const NO_ARGUMENT = '';

/** What an installer document is made of; the box agent and the cluster's head agent are two of them. */
export interface InstallerDocumentSpec {
  /** The first comment line of the command: what this installs and where to look on the instance. */
  readonly about: string;
  /** The document's description, which the SSM console shows. */
  readonly description: string;
  /** install-agent.sh's instructions, one a line, starting with `version`. */
  readonly manifest: readonly string[];
  /** What the manifest's `file` lines write, in order (for tests and readers). */
  readonly files: readonly AgentFile[];
  /** Parameters besides `documentHash`, which every installer document takes first. */
  readonly parameters: Readonly<Record<string, DocumentParameter>>;
  /**
   * The parameters the installer gets as arguments after the hash, in its order (the others are used in the
   * manifest); NO_ARGUMENT passes an empty argument in the place of one the document does not have.
   */
  readonly installerArguments: readonly string[];
  /**
   * How long SSM lets the step run.
   * @default 600
   */
  readonly timeoutSeconds?: number;
}

/**
 * A Command document that writes install-agent.sh and the manifest to a private directory and runs the one with
 * the other. The caller checks the size against SSM's limit (fitsSsm).
 */
export function renderInstallerDocument(spec: InstallerDocumentSpec): AgentDocument {
  const command = fillTemplate('agent-command.sh', {
    ABOUT: spec.about,
    INSTALLER: readShippedCopy('install-agent.sh').replace(/\n$/, ''),
    MANIFEST: spec.manifest.join('\n'),
    ARGUMENTS: ['documentHash', ...spec.installerArguments].map((name) => (name === NO_ARGUMENT ? "''" : `'{{ ${name} }}'`)).join(' '),
  });
  const content = JSON.stringify({
    schemaVersion: '2.2',
    description: spec.description,
    parameters: {
      documentHash: {
        type: 'String',
        description: 'SHA-256 of this document, passed by the association so that a new document runs at once; recorded in /etc/trainium-spot/agent.json.',
        default: 'unknown',
        allowedPattern: '^([0-9a-f]{64}|unknown)$',
      },
      ...spec.parameters,
    },
    mainSteps: [{
      action: 'aws:runShellScript',
      name: 'installAgent',
      precondition: { StringEquals: ['platformType', 'Linux'] },
      inputs: { timeoutSeconds: String(spec.timeoutSeconds ?? 600), runCommand: command.replace(/\n$/, '').split('\n') },
    }],
  });
  return { content, hash: createHash('sha256').update(content, 'utf8').digest('hex'), command, files: spec.files };
}
