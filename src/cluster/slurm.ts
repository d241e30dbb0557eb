/**
 * The cluster's configuration contract: the text of the head's `slurm.conf` and of
 * `/etc/trainium-spot/cluster.conf`, which the power-saving programs (`src/userdata/cluster/*.sh`) source.
 *
 * Slurm decides when compute nodes exist (its power-saving interface: CLOUD nodes, ResumeProgram,
 * SuspendProgram); the programs only do the EC2 side. Every parameter below is checked against the
 * Slurm 22.05 `slurm.conf(5)` and `scontrol(1)` man pages (Debian 12's slurm-wlm 22.05.8, the release
 * the head runs) and the power-saving and cloud guides, https://slurm.schedmd.com/power_save.html and
 * https://slurm.schedmd.com/elastic_computing.html (checked 2026-12-07); where the current pages
 * describe newer releases (e.g. SuspendExcStates, 23.02+), 22.05 is followed.
 *
 * Pure functions: no file, environment or clock is read here.
 */

import { CLUSTER_TAG_KEY, NODE_TAG_KEY } from '../catalog';
import { CLUSTER_MARKETS, type ClusterMarket } from '../markets';

// ---------------------------------------------------------------------------------------------
// Facts shared by the renderers, the programs and the stack
// ---------------------------------------------------------------------------------------------

// The markets (src/markets.ts) and the cluster tag (the catalog) are the stack's own: one definition each.
export { CLUSTER_MARKETS, type ClusterMarket } from '../markets';
export { CLUSTER_TAG_KEY, NODE_TAG_KEY } from '../catalog';


/** Where the head keeps the programs' settings (bash, sourced). */
export const CLUSTER_CONF_PATH = '/etc/trainium-spot/cluster.conf';

/**
 * The programs, installed together under their source names (they source lib.sh beside them): the first four
 * on the head, node-bootstrap on each node, munge-key on both. Sources: src/userdata/cluster/.
 */
export const CLUSTER_PROGRAMS = {
  resume: 'resume.sh',
  suspend: 'suspend.sh',
  resumeFail: 'resume-fail.sh',
  reconcile: 'reconcile.sh',
  nodeBootstrap: 'node-bootstrap.sh',
  /** The head makes the cluster's munge key (`--generate`); a node fetches it. */
  mungeKey: 'munge-key.sh',
  lib: 'lib.sh',
} as const;

/** Where they are installed. */
export const CLUSTER_PROGRAMS_DIR = '/usr/local/lib/trainium-spot/slurm';

/** The launch template the stack creates for compute nodes; fixed, so it is known at synth. */
export const nodeLaunchTemplateName = (name: string): string => `${name}-nodes`;

/** Slurm node names of a cluster: `<cluster>-1` … `<cluster>-<nodes>`. */
export const nodeNames = (clusterName: string, nodes: number): string[] =>
  Array.from({ length: nodes }, (_, i) => `${clusterName}-${i + 1}`);

// ---------------------------------------------------------------------------------------------
// slurm.conf
// ---------------------------------------------------------------------------------------------

/** How long Slurm waits for the cloud, in seconds. Every field has a default fit for trn instances. */
export interface SlurmTimeouts {
  /**
   * ResumeTimeout: from the power-up request to the node's slurmd registering with a new boot time; past it
   * the node is set DOWN, its job requeued and ResumeFailProgram runs.
   * @default 900 (a trn1.32xlarge from launch through the DLAMI's first boot)
   */
  readonly resumeSeconds?: number;
  /**
   * SuspendTimeout: from the power-down request until the node may be resumed again (EC2 termination).
   * @default 120
   */
  readonly suspendSeconds?: number;
  /**
   * SlurmdTimeout: how long a silent slurmd is tolerated before the node is set DOWN.
   * @default 300 (Slurm's own default)
   */
  readonly slurmdSeconds?: number;
  /**
   * MessageTimeout: one round trip between daemons.
   * @default 10 (Slurm's own default)
   */
  readonly messageSeconds?: number;
  /**
   * How long a requeued job waits before it may start again (a lost node's job): AuthInfo's cred_expire, the job
   * step credentials' lifetime, which "also controls how long a requeued job must wait before starting again".
   * @default 120 (Slurm's own default)
   */
  readonly requeueDelaySeconds?: number;
}

/** Where the daemons keep state, logs and pid files; the defaults are Debian's slurm-wlm layout. */
export interface SlurmPaths {
  /** @default '/var/spool/slurmctld' */
  readonly stateSaveLocation: string;
  /** `%n` is the node name, so several slurmd on one host never share it. @default '/var/spool/slurmd' */
  readonly slurmdSpoolDir: string;
  /** @default '/var/log/slurm/slurmctld.log' */
  readonly slurmctldLogFile: string;
  /** @default '/var/log/slurm/slurmd.log' */
  readonly slurmdLogFile: string;
  /** @default '/run/slurmctld.pid' */
  readonly slurmctldPidFile: string;
  /** @default '/run/slurmd.pid' */
  readonly slurmdPidFile: string;
  /** Directory holding the installed programs (CLUSTER_PROGRAMS). @default CLUSTER_PROGRAMS_DIR */
  readonly programsDir: string;
}

export interface SlurmConfProps {
  /** ClusterName, and the prefix of every node name: lower-case letters, digits and `-`, at most 30. */
  readonly clusterName: string;
  /** The head's host name as `hostname -s` prints it there (SlurmctldHost). */
  readonly headHostname: string;
  /**
   * The head's address, when its host name does not resolve on the nodes (SlurmctldHost=name(address)).
   * @default none: nodes resolve `headHostname` (EC2's `ip-…` names resolve in the VPC)
   */
  readonly headAddress?: string;
  /**
   * The port slurmctld listens on (SlurmctldPort); the nodes' cluster.conf must name the same (`headPort`).
   * @default none: Slurm's own, 6817
   */
  readonly headPort?: number;
  /** How many compute nodes the cluster may have at once (1–1024). */
  readonly nodes: number;
  /** CPUs Slurm schedules on each node: the instance type's vCPUs. */
  readonly cpusPerNode: number;
  /**
   * RealMemory of each node in MiB. A CLOUD node may register with 90 % of it (node_reg_mem_percent's
   * default for CLOUD nodes in 22.05), which covers what the kernel keeps of the instance's memory.
   */
  readonly memoryMiB: number;
  /** Minutes a node stays idle (or down) before Slurm powers it down (SuspendTime); whole seconds. */
  readonly nodeIdleMinutes: number;
  /** @default see SlurmTimeouts */
  readonly timeouts?: SlurmTimeouts;
  /** @default Debian's layout, see SlurmPaths */
  readonly paths?: Partial<SlurmPaths>;
  /** SlurmUser, which runs slurmctld and the power-saving programs. @default 'slurm' */
  readonly slurmUser?: string;
  /**
   * ProctrackType. `proctrack/cgroup` is what the man page recommends ("highly recommended" to track every
   * process of a step); another plugin only for hosts that cannot give each slurmd its own cgroups.
   * @default 'proctrack/cgroup'
   */
  readonly proctrackType?: 'proctrack/cgroup' | 'proctrack/linuxproc';
  /** PartitionName of the one partition. @default 'trn' */
  readonly partitionName?: string;
}

const DEFAULT_PATHS: SlurmPaths = {
  stateSaveLocation: '/var/spool/slurmctld',
  slurmdSpoolDir: '/var/spool/slurmd',
  slurmctldLogFile: '/var/log/slurm/slurmctld.log',
  slurmdLogFile: '/var/log/slurm/slurmd.log',
  slurmctldPidFile: '/run/slurmctld.pid',
  slurmdPidFile: '/run/slurmd.pid',
  programsDir: CLUSTER_PROGRAMS_DIR,
};

const DEFAULT_TIMEOUTS: Required<SlurmTimeouts> = {
  resumeSeconds: 900,
  suspendSeconds: 120,
  slurmdSeconds: 300,
  messageSeconds: 10,
  requeueDelaySeconds: 120,
};

/** More nodes than this would need a second partition and TreeWidth thought; not offered. */
export const MAX_CLUSTER_NODES = 1024;

const CLUSTER_NAME = /^[a-z][a-z0-9-]{0,29}$/;
const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const ADDRESS = /^[A-Za-z0-9.:-]{1,253}$/;
const ABSOLUTE_PATH = /^\/[A-Za-z0-9._/%-]*$/;
const SIMPLE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** A bad value: one line naming the field, what was received and what is allowed. */
export class ClusterConfigError extends Error {
  constructor(field: string, received: unknown, allowed: string) {
    super(`${field}: got ${JSON.stringify(received)}; ${allowed}`);
    this.name = 'ClusterConfigError';
  }
}

function check(ok: boolean, field: string, received: unknown, allowed: string): void {
  if (!ok) throw new ClusterConfigError(field, received, allowed);
}

function wholeNumber(field: string, value: number, min: number, max: number): number {
  check(Number.isInteger(value) && value >= min && value <= max, field, value, `a whole number from ${min} to ${max}`);
  return value;
}

/**
 * slurm.conf for the head, served to the nodes by configless slurmctld (the nodes carry no copy).
 * Each line's comment says why it is there; the sources are in this module's header.
 */
export function renderSlurmConf(props: SlurmConfProps): string {
  check(CLUSTER_NAME.test(props.clusterName), 'clusterName', props.clusterName,
    'lower-case letters, digits and "-", starting with a letter, at most 30 characters');
  check(HOST_NAME.test(props.headHostname), 'headHostname', props.headHostname, 'a short host name (hostname -s)');
  if (props.headAddress !== undefined) {
    check(ADDRESS.test(props.headAddress), 'headAddress', props.headAddress, 'an IP address or DNS name');
  }
  const nodes = wholeNumber('nodes', props.nodes, 1, MAX_CLUSTER_NODES);
  if (props.headPort !== undefined) wholeNumber('headPort', props.headPort, 1, 65535);
  const cpus = wholeNumber('cpusPerNode', props.cpusPerNode, 1, 4096);
  const memoryMiB = wholeNumber('memoryMiB', props.memoryMiB, 1, 64 * 1024 * 1024);
  const suspendSeconds = props.nodeIdleMinutes * 60;
  check(Number.isInteger(suspendSeconds) && suspendSeconds >= 1, 'nodeIdleMinutes', props.nodeIdleMinutes,
    'a positive number of minutes that is a whole number of seconds');
  const t = { ...DEFAULT_TIMEOUTS, ...props.timeouts };
  wholeNumber('timeouts.resumeSeconds', t.resumeSeconds, 1, 65533);
  wholeNumber('timeouts.suspendSeconds', t.suspendSeconds, 1, 65533);
  wholeNumber('timeouts.slurmdSeconds', t.slurmdSeconds, 1, 65533);
  wholeNumber('timeouts.messageSeconds', t.messageSeconds, 1, 600);
  wholeNumber('timeouts.requeueDelaySeconds', t.requeueDelaySeconds, 5, 86400);
  const paths = { ...DEFAULT_PATHS, ...props.paths };
  for (const [field, value] of Object.entries(paths)) {
    check(ABSOLUTE_PATH.test(value), `paths.${field}`, value, 'an absolute path of letters, digits and . _ / % -');
  }
  const slurmUser = props.slurmUser ?? 'slurm';
  check(SIMPLE_NAME.test(slurmUser), 'slurmUser', slurmUser, 'a user name');
  const partition = props.partitionName ?? 'trn';
  check(SIMPLE_NAME.test(partition), 'partitionName', partition, 'letters, digits, "_" and "-"');
  const proctrack = props.proctrackType ?? 'proctrack/cgroup';
  const program = (p: keyof typeof CLUSTER_PROGRAMS): string => `${paths.programsDir}/${CLUSTER_PROGRAMS[p]}`;
  const head = props.headAddress === undefined ? props.headHostname : `${props.headHostname}(${props.headAddress})`;
  const nodeRange = nodes === 1 ? `${props.clusterName}-1` : `${props.clusterName}-[1-${nodes}]`;

  return [
    '# slurm.conf, written by trainium-spot; the nodes fetch it from slurmctld (configless).',
    `ClusterName=${props.clusterName}`,
    `SlurmctldHost=${head}`,
    ...(props.headPort === undefined ? [] : [`SlurmctldPort=${props.headPort}`]),
    `SlurmUser=${slurmUser}`,
    'AuthType=auth/munge',
    '# cred_expire: job step credentials\' lifetime, and how long a requeued job waits before it starts again.',
    `AuthInfo=cred_expire=${t.requeueDelaySeconds}`,
    '# enable_configless: slurmd pulls slurm.conf from slurmctld, so a node image carries no copy.',
    '# No cloud_dns: node names are not in DNS; slurmctld hands out the addresses ResumeProgram sets.',
    '# No idle_on_node_suspend: with it, powering down a node the programs set DOWN (launch refused, instance',
    '#   lost) makes it IDLE and drops EC2\'s reason at once; without it the node stays DOWN, powered down, with',
    '#   the reason in sinfo -R, until reconcile returns it to service (TS_CAPACITY_RETRY_SECONDS).',
    'SlurmctldParameters=enable_configless',
    '# Node addresses change with every launch: look them up each time, never from a cache.',
    'CommunicationParameters=NoAddrCache',
    '# Powered-down CLOUD nodes show in sinfo, so a capacity shortage is visible there.',
    'PrivateData=cloud',
    '# A DOWN node returns to service when its slurmd registers with a valid configuration, whatever set it DOWN.',
    'ReturnToService=2',
    '# Batch jobs are requeued when their node fails (a spot interruption); sbatch --no-requeue opts out.',
    'JobRequeue=1',
    '# slurmd on cloud nodes do not know each other\'s addresses: slurmctld talks to each directly',
    '# (the cloud guide: TreeWidth at least the node count).',
    `TreeWidth=${nodes}`,
    '',
    '# Power saving: Slurm decides when a node exists; these programs only do the EC2 side.',
    `ResumeProgram=${program('resume')}`,
    `SuspendProgram=${program('suspend')}`,
    `ResumeFailProgram=${program('resumeFail')}`,
    `SuspendTime=${suspendSeconds}`,
    `ResumeTimeout=${t.resumeSeconds}`,
    `SuspendTimeout=${t.suspendSeconds}`,
    `SlurmdTimeout=${t.slurmdSeconds}`,
    `MessageTimeout=${t.messageSeconds}`,
    '',
    `StateSaveLocation=${paths.stateSaveLocation}`,
    `SlurmdSpoolDir=${paths.slurmdSpoolDir}`,
    `SlurmctldLogFile=${paths.slurmctldLogFile}`,
    `SlurmdLogFile=${paths.slurmdLogFile}`,
    `SlurmctldPidFile=${paths.slurmctldPidFile}`,
    `SlurmdPidFile=${paths.slurmdPidFile}`,
    `ProctrackType=${proctrack}`,
    'SchedulerType=sched/backfill',
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_Core',
    '',
    `NodeName=${nodeRange} CPUs=${cpus} RealMemory=${memoryMiB} State=CLOUD`,
    `PartitionName=${partition} Nodes=${nodeRange} Default=YES MaxTime=INFINITE State=UP`,
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// cluster.conf
// ---------------------------------------------------------------------------------------------

export interface ClusterConfProps {
  /** The stack's name; the launch template is `<name>-nodes` (nodeLaunchTemplateName). */
  readonly name: string;
  /** Slurm ClusterName, the value of the cluster tag and the node name prefix. */
  readonly clusterName: string;
  /** AWS Region of the cluster, e.g. `us-east-1`. */
  readonly region: string;
  /** Market every compute node is launched in. */
  readonly market: ClusterMarket;
  /** The Capacity Block's reservation, `cr-…`; required for, and only for, market `capacity-block`. */
  readonly capacityReservationId?: string;
  /**
   * Cluster placement group the nodes launch into (EFA traffic stays on one spine).
   * @default none; never with `capacity-block`, whose reservation already fixes where the instances run
   */
  readonly placementGroupName?: string;
  /**
   * Where a node finds slurmctld (`slurmd --conf-server`), host name or address.
   * @default none: node-bootstrap then needs `TS_HEAD_HOST` from elsewhere
   */
  readonly headHost?: string;
  /**
   * The port slurmctld listens on, when slurm.conf sets one (`headPort` there too).
   * @default none: Slurm's own, 6817
   */
  readonly headPort?: number;
  /**
   * How long a node the programs set DOWN (launch refused, ResumeTimeout) stays DOWN before reconcile returns it
   * to service, so a pending job tries EC2 again; ParallelCluster's insufficient_capacity_timeout plays this part.
   * @default 10
   */
  readonly capacityRetryMinutes?: number;
  /**
   * The SecureString parameter that holds the munge key, base64 (munge-key.sh reads and, on the head, writes it).
   * @default none: munge-key.sh then cannot run
   */
  readonly mungeKeyParameter?: string;
  /**
   * What the parameter holds until the head has written a key (Terraform's placeholder).
   * @default none
   */
  readonly mungeKeyUnset?: string;
  /**
   * How long a compute node goes on without an answer from slurmctld before it powers itself off (node-guard.sh),
   * so a node whose head is stopped or broken does not run on. Counted from the node's boot, so it must exceed
   * ResumeTimeout: until slurmd has its configuration from the head, the node cannot ask slurmctld at all.
   * @default DEFAULT_NODE_ORPHAN_MINUTES (20)
   */
  readonly nodeOrphanMinutes?: number;
}

/**
 * A node powers itself off after this many minutes without slurmctld: the default ResumeTimeout (15 minutes, the
 * time a node has from launch to registering, during which it cannot reach slurmctld yet) plus 5. It is also well
 * past SlurmdTimeout (5 minutes): by then a working slurmctld has set a silent node DOWN and requeued its job, so a
 * node that still has no controller is of no use to any job. A short outage (slurmctld restarting) never counts.
 */
export const DEFAULT_NODE_ORPHAN_MINUTES = Math.ceil(DEFAULT_TIMEOUTS.resumeSeconds / 60) + 5;

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const RESERVATION_ID = /^cr-[0-9a-f]{8}([0-9a-f]{9})?$/;
const PLACEMENT_GROUP = /^[A-Za-z0-9._-]{1,255}$/;
const STACK_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,118}$/;
/** An SSM parameter name with a leading slash (hierarchy), as this project names them. */
const PARAMETER_NAME = /^(\/[A-Za-z0-9_.-]+)+$/;
/** Printable text without a single quote, which would end the value's quotes. */
const QUOTABLE = /^[ -&(-~]{1,200}$/;

/** `/etc/trainium-spot/cluster.conf`: plain `KEY='value'` lines that bash sources. */
export function renderClusterConf(props: ClusterConfProps): string {
  check(STACK_NAME.test(props.name), 'name', props.name, 'letters, digits and "-", starting with a letter or digit');
  check(CLUSTER_NAME.test(props.clusterName), 'clusterName', props.clusterName,
    'lower-case letters, digits and "-", starting with a letter, at most 30 characters');
  check(REGION.test(props.region), 'region', props.region, 'an AWS Region such as us-east-1');
  check((CLUSTER_MARKETS as readonly string[]).includes(props.market), 'market', props.market,
    `one of ${CLUSTER_MARKETS.join(', ')}`);
  if (props.market === 'capacity-block') {
    check(props.capacityReservationId !== undefined, 'capacityReservationId', props.capacityReservationId,
      'required with market "capacity-block": the Capacity Block\'s cr-… id');
    check(props.placementGroupName === undefined, 'placementGroupName', props.placementGroupName,
      'not with market "capacity-block": the Capacity Block fixes where its instances run');
  } else {
    check(props.capacityReservationId === undefined, 'capacityReservationId', props.capacityReservationId,
      `only with market "capacity-block", not "${props.market}"`);
  }
  if (props.capacityReservationId !== undefined) {
    check(RESERVATION_ID.test(props.capacityReservationId), 'capacityReservationId', props.capacityReservationId,
      'cr- and 8 or 17 hex digits');
  }
  if (props.placementGroupName !== undefined) {
    check(PLACEMENT_GROUP.test(props.placementGroupName), 'placementGroupName', props.placementGroupName,
      'letters, digits, ".", "_" and "-", at most 255');
  }
  if (props.headHost !== undefined) {
    check(ADDRESS.test(props.headHost), 'headHost', props.headHost, 'a host name or IP address');
  }
  if (props.mungeKeyParameter !== undefined) {
    check(PARAMETER_NAME.test(props.mungeKeyParameter), 'mungeKeyParameter', props.mungeKeyParameter,
      'an SSM parameter name: "/"-separated letters, digits, "_", "." and "-"');
  }
  if (props.mungeKeyUnset !== undefined) {
    check(QUOTABLE.test(props.mungeKeyUnset), 'mungeKeyUnset', props.mungeKeyUnset, 'printable text without a single quote, at most 200');
  }
  if (props.headPort !== undefined) wholeNumber('headPort', props.headPort, 1, 65535);
  const retrySeconds = (props.capacityRetryMinutes ?? 10) * 60;
  check(Number.isInteger(retrySeconds) && retrySeconds >= 0, 'capacityRetryMinutes', props.capacityRetryMinutes,
    'a number of minutes that is a whole number of seconds, 0 or more');
  const orphanMinutes = props.nodeOrphanMinutes ?? DEFAULT_NODE_ORPHAN_MINUTES;
  check(Number.isInteger(orphanMinutes) && orphanMinutes >= 1 && orphanMinutes <= 1440, 'nodeOrphanMinutes', props.nodeOrphanMinutes,
    'a whole number of minutes from 1 to 1440');
  const line = (key: string, value: string): string => `${key}='${value}'`;
  return [
    '# trainium-spot cluster settings, sourced by the Slurm power-saving programs. Written at deploy; do not edit.',
    line('TS_CLUSTER_NAME', props.clusterName),
    line('TS_REGION', props.region),
    line('TS_LAUNCH_TEMPLATE_NAME', nodeLaunchTemplateName(props.name)),
    line('TS_MARKET', props.market),
    line('TS_CAPACITY_RESERVATION_ID', props.capacityReservationId ?? ''),
    line('TS_PLACEMENT_GROUP', props.placementGroupName ?? ''),
    line('TS_CLUSTER_TAG_KEY', CLUSTER_TAG_KEY),
    line('TS_NODE_TAG_KEY', NODE_TAG_KEY),
    line('TS_HEAD_HOST', props.headHost ?? ''),
    line('TS_HEAD_PORT', props.headPort === undefined ? '' : String(props.headPort)),
    line('TS_CAPACITY_RETRY_SECONDS', String(retrySeconds)),
    line('TS_MUNGE_KEY_PARAMETER', props.mungeKeyParameter ?? ''),
    line('TS_MUNGE_KEY_UNSET', props.mungeKeyUnset ?? ''),
    line('TS_NODE_ORPHAN_MINUTES', String(orphanMinutes)),
    '',
  ].join('\n');
}
