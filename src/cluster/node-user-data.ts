/**
 * The compute node's user data: a cloud-config that writes the node's settings and programs and runs its
 * first-boot setup (src/userdata/cluster/node-setup.sh: the orphan guard, Slurm and munge from Ubuntu's archive,
 * the munge key through the head's own munge-key.sh, /shared, slurmd under its own systemd unit). A node comes up
 * ready to run jobs from the launch template alone, and powers itself off when its head is gone (node-guard.sh).
 *
 * - The programs are the real files of src/userdata/cluster/ (without their comment lines, the documentation, which
 *   stays in the repository: shippedCopy in src/userdata/files.ts), each gzip'd and base64'd (cloud-init's write_files `encoding: gz+b64`,
 *   cloudinit/config/cc_write_files.py in canonical/cloud-init, checked 2026-12-07), so the user data stays well
 *   inside EC2's 16 KB and holds no shell text Terraform could read as its own syntax.
 * - `/etc/trainium-spot/cluster.conf` is `renderClusterConf` (the head's keys, `TS_HEAD_HOST` the head's fixed
 *   address, the munge key's parameter and placeholder, `TS_NODE_ORPHAN_MINUTES`) plus the node's own: the shared
 *   storage.
 * - Values known only at plan time (the file system's DNS name) stay
 *   Terraform expressions (`${...}`) in the text; the construct has Terraform base64-encode it. Everything else
 *   in the text is free of Terraform's template syntax, double quotes and backslashes, which this module checks.
 *
 * Size: EC2 takes at most 16 KB of user data before base64 (`USER_DATA_LIMIT_BYTES`); `nodeUserDataBoundBytes`
 * counts each expression at the longest value it can take (a DNS name), and rendering fails past the limit.
 */
import { USER_DATA_LIMIT_BYTES } from '../catalog';
import type { ClusterSettings } from '../cluster-config';
import { fillTemplate, packed, readShippedCopy, shippedCopy } from '../userdata/files';
import { CLUSTER_CONF_PATH, CLUSTER_PROGRAMS, CLUSTER_PROGRAMS_DIR, ClusterConfigError, renderClusterConf, type ClusterConfProps } from './slurm';

/** The shared storage types, as the config names them. */
export type SharedStorageType = ClusterSettings['sharedStorage']['type'];

export interface NodeUserDataProps {
  /** cluster.conf's settings, the head's; `headHost` (the head's address) is where slurmd finds slurmctld. */
  readonly cluster: ClusterConfProps & { readonly headHost: string };
  /** The SSM SecureString that holds the munge key (base64 of its bytes). */
  readonly mungeKeyParameterName: string;
  /** What the parameter holds until the head has written the key: the node waits while it does. */
  readonly mungeKeyUnset: string;
  /** Mounted at /shared: the type and the `mount` source (a Terraform expression at synth). */
  readonly sharedStorage: { readonly type: SharedStorageType; readonly mountSource: string };
}

/** Where the node's programs are installed: beside the power-saving programs, as on the head. */
export const NODE_SETUP_PATH = `${CLUSTER_PROGRAMS_DIR}/node-setup.sh`;
const SLURMD_UNIT = 'trainium-spot-slurmd.service';
/** The guard that powers a node off when its head is gone, and the timer that runs it every minute. */
export const NODE_GUARD_UNITS = { service: 'trainium-spot-node-guard.service', timer: 'trainium-spot-node-guard.timer' } as const;

const NODE_GUARD = 'node-guard.sh';

/** The longest value a Terraform expression in the user data can take: a DNS name. */
export const EXPRESSION_MAX_BYTES = 253;

/** A Terraform expression in a synthesized string: `${aws_x.y.attr}`, or a cdktf token before resolution. */
const EXPRESSION = /\$\{[^}]*\}/g;

interface NodeFile {
  readonly path: string;
  readonly mode: '0644' | '0755';
  readonly content: string;
}

/** The files the node gets besides cluster.conf, from src/userdata/cluster/. */
function nodeFiles(): NodeFile[] {
  const program = (name: string): NodeFile => ({
    path: `${CLUSTER_PROGRAMS_DIR}/${name}`, mode: '0755', content: readShippedCopy(`cluster/${name}`),
  });
  const unit = (name: string, values: Readonly<Record<string, string>> = {}): NodeFile => ({
    path: `/etc/systemd/system/${name}`, mode: '0644', content: shippedCopy(`cluster/${name}`, fillTemplate(`cluster/${name}`, values)),
  });
  return [
    program('node-setup.sh'),
    program('setup-lib.sh'),
    program('mount-shared.sh'),
    program(CLUSTER_PROGRAMS.mungeKey),
    program(CLUSTER_PROGRAMS.nodeBootstrap),
    program(NODE_GUARD),
    unit(SLURMD_UNIT, { NODE_BOOTSTRAP: `${CLUSTER_PROGRAMS_DIR}/${CLUSTER_PROGRAMS.nodeBootstrap}` }),
    unit(NODE_GUARD_UNITS.service, { NODE_GUARD: `${CLUSTER_PROGRAMS_DIR}/${NODE_GUARD}` }),
    unit(NODE_GUARD_UNITS.timer),
    { path: '/etc/profile.d/trainium-spot-efa.sh', mode: '0644', content: readShippedCopy('cluster/trainium-spot-efa.sh') },
  ];
}

/** A value for a `KEY='value'` line: one line, no single quote (bash would end the string there). */
function confValue(field: string, value: string): string {
  if (/['\n]/.test(value)) throw new ClusterConfigError(field, value, 'a single line without single quotes');
  return value;
}

/**
 * cluster.conf as the node gets it: the head's keys, then the node's own. The launch settings a node never uses
 * may be left out of `props.cluster` (the placement group: only the head launches nodes).
 */
function nodeClusterConf(props: NodeUserDataProps): string {
  // The head's address is fixed at synth (headPrivateIp), so renderClusterConf checks it like any other value.
  const conf = renderClusterConf({ ...props.cluster, mungeKeyParameter: props.mungeKeyParameterName, mungeKeyUnset: props.mungeKeyUnset });
  const line = (key: string, field: string, value: string) => `${key}='${confValue(field, value)}'`;
  return [
    conf.trimEnd(),
    '# The compute node\'s own settings (node-setup.sh).',
    line('TS_SHARED_STORAGE_TYPE', 'sharedStorage.type', props.sharedStorage.type),
    line('TS_SHARED_STORAGE_SOURCE', 'sharedStorage.mountSource', props.sharedStorage.mountSource),
    '',
  ].join('\n');
}

/**
 * The cloud-config text. It may hold Terraform expressions (`${...}`): the plan-time values of `props`.
 * Throws when the bound of its size is past EC2's limit, or when text of ours would read as Terraform syntax.
 */
export function renderNodeUserData(props: NodeUserDataProps): string {
  const { name } = props.cluster;
  const text = [
    '#cloud-config',
    `# ${name} cluster compute node, from the launch template ${name}-nodes: the files below (gzip and base64,`,
    '# from src/userdata/cluster/ in trainium-spot) and the first-boot setup that installs Slurm and munge,',
    '# fetches the munge key, mounts /shared and starts slurmd. Its log: /var/log/trainium-spot-node-setup.log.',
    'write_files:',
    `  - path: ${CLUSTER_CONF_PATH}`,
    "    permissions: '0644'",
    '    content: |',
    ...nodeClusterConf(props).trimEnd().split('\n').map((l) => `      ${l}`),
    ...nodeFiles().flatMap((file) => [
      `  - path: ${file.path}`,
      `    permissions: '${file.mode}'`,
      '    encoding: gz+b64',
      `    content: ${packed(file.content)}`,
    ]),
    'runcmd:',
    `  - [${NODE_SETUP_PATH}]`,
    '',
  ].join('\n');

  const ours = text.replace(EXPRESSION, '');
  const bad = /\$\{|%\{|["\\]/.exec(ours);
  // Only our own text and checked values are in it, so this is a bug of ours.
  if (bad) throw new Error(`node user data: "${bad[0]}" outside a Terraform expression would break Terraform's base64encode`);
  const bound = nodeUserDataBoundBytes(text);
  if (bound > USER_DATA_LIMIT_BYTES) {
    throw new Error(`node user data: up to ${bound} bytes; EC2 takes at most ${USER_DATA_LIMIT_BYTES}`);
  }
  return text;
}

/** The most bytes the text can weigh once Terraform has put the values in: each expression a longest DNS name. */
export function nodeUserDataBoundBytes(text: string): number {
  return Buffer.byteLength(text.replace(EXPRESSION, 'x'.repeat(EXPRESSION_MAX_BYTES)), 'utf8');
}
