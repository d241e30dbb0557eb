/**
 * The head's software, delivered like the box agent: a State Manager Command document that runs the box's installer
 * (src/userdata/install-agent.sh) with the head's manifest. It installs Slurm's controller and munge from Ubuntu's
 * archive, the head's slurm.conf and cluster.conf, the power-saving programs and the reconcile timer, the NAT the
 * nodes go out through, /shared, the cluster's munge key, and the box's idle check with the slurm detector on, so
 * an idle head stops itself like a box; src/constructs/cluster-head-agent.ts associates it with the head.
 *
 * Also here: the head's fixed address and host name, known at synth, so that slurm.conf (SlurmctldHost) and the
 * nodes' cluster.conf (TS_HEAD_HOST) are literals.
 *
 * Pure functions: no environment or clock is read here (the programs are read from src/userdata/cluster/).
 */
import * as ipaddr from 'ipaddr.js';
import type { IdleSettings } from '../config';
import {
  type AgentDocument, type AgentFile, type Feature, featureLines, featureManifest, idleCheckFeature, instanceArnPrefixLine,
  fitsSsm, instanceArnPrefixParameter, NO_ARGUMENT, renderInstallerDocument,
} from '../userdata/agent';
import { fillTemplate, packageVersion, readShippedCopy, readUserdataFile } from '../userdata/files';
import type { SharedStorageType } from './node-user-data';
import { CLUSTER_CONF_PATH, CLUSTER_PROGRAMS, CLUSTER_PROGRAMS_DIR } from './slurm';

// ---------------------------------------------------------------------------------------------
// The head's address and name
// ---------------------------------------------------------------------------------------------

// The tag only the head carries: the catalog's, which the CLI finds the head by too.
export { HEAD_TAG_KEY } from '../catalog';

/**
 * The head is this host of its subnet: past the four addresses AWS reserves at the start of every subnet (network,
 * VPC router, DNS, future use; Amazon VPC User Guide, "Subnet CIDR blocks",
 * https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html, checked 2026-12-07).
 */
export const HEAD_HOST_NUMBER = 10;

/** The head's private IPv4 address: host HEAD_HOST_NUMBER of its subnet. */
export function headPrivateIp(subnetCidr: string): string {
  const size = 2 ** (32 - ipaddr.IPv4.parseCIDR(subnetCidr)[1]);
  // The last address is reserved too: the subnet must hold the head's host number below it.
  if (HEAD_HOST_NUMBER >= size - 1) throw new Error(`the head's subnet ${subnetCidr} has no host ${HEAD_HOST_NUMBER}`);
  const base = ipaddr.IPv4.networkAddressFromCIDR(subnetCidr).toByteArray().reduce((n, byte) => n * 256 + byte, 0);
  const address = base + HEAD_HOST_NUMBER;
  return [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join('.');
}

/**
 * The host name EC2 gives an instance with IP-based naming, the default (`hostname -s` prints it): `ip-` and the
 * private IPv4 address with dashes, e.g. ip-10-42-0-10 (EC2 User Guide, "Amazon EC2 instance hostname types", IP
 * name: "the guest OS hostname is configured to use the private IPv4 address", example ip-10-24-34-0.ec2.internal;
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-naming.html, checked 2026-12-07). The head's
 * subnet sets no other hostname type.
 */
export function ec2IpHostname(privateIp: string): string {
  if (!ipaddr.IPv4.isValidFourPartDecimal(privateIp)) throw new Error(`not an IPv4 address: ${privateIp}`);
  return `ip-${privateIp.replace(/\./g, '-')}`;
}

// ---------------------------------------------------------------------------------------------
// What the head gets
// ---------------------------------------------------------------------------------------------

/**
 * Ubuntu 24.04's packages the head needs: slurmctld 23.11 (its `dep: munge, slurm-client`;
 * https://packages.ubuntu.com/noble/slurmctld, checked 2026-12-07), iptables for the NAT, curl and unzip for AWS's
 * CLI bundle (aws-cli.sh: noble's archive has no awscli, https://packages.ubuntu.com/search?keywords=awscli lists
 * jammy and later releases but not noble, checked 2026-12-07).
 */
export const HEAD_PACKAGES = ['munge', 'slurmctld', 'slurm-client', 'iptables', 'curl', 'unzip'] as const;

/** Where the head's slurm.conf goes: Debian's and Ubuntu's slurm-wlm read /etc/slurm/slurm.conf. */
export const SLURM_CONF_PATH = '/etc/slurm/slurm.conf';

/**
 * slurmctld's state on the head: the directory Debian's (and Ubuntu's) slurmctld package creates and gives the slurm
 * user in its postinst (`chown slurm:slurm /var/lib/slurm/slurmctld`; slurmctld 22.05.8-4+deb12u3's postinst,
 * checked 2026-12-07 on Debian 12; Ubuntu's 23.11 is packaged from the same Debian source, not checked on a head).
 */
export const HEAD_STATE_SAVE_LOCATION = '/var/lib/slurm/slurmctld';

const UNIT_DIR = '/etc/systemd/system';
const RECONCILE_SERVICE = 'trainium-spot-slurm-reconcile.service';
const RECONCILE_TIMER = 'trainium-spot-slurm-reconcile.timer';
const NAT_SERVICE = 'trainium-spot-nat.service';
const NAT_SYSCTL_PATH = '/etc/sysctl.d/60-trainium-spot-nat.conf';
const SLURMCTLD_SERVICE = 'slurmctld.service';
/** The head-only steps, installed beside the shared programs; mount-shared.sh is the nodes' too. */
const HEAD_STEPS = { nat: 'nat.sh', awsCli: 'aws-cli.sh', mountShared: 'mount-shared.sh', setupLib: 'setup-lib.sh' } as const;
/** Where the head mounts the cluster's shared storage, as every node does. */
export const SHARED_MOUNT_POINT = '/shared';
/** The association parameter that carries the shared storage's mount source (known at apply). */
export const SHARED_STORAGE_SOURCE_PARAMETER = 'sharedStorageSource';

/**
 * The mount sources mount-shared.sh accepts (its own checks, whole value): `<DNS name>:/` for EFS,
 * `<DNS name>@tcp:/<mount name>` for FSx for Lustre. SSM puts the value into the manifest as is.
 */
export const SHARED_STORAGE_SOURCE_PATTERNS: Readonly<Record<SharedStorageType, string>> = {
  'efs': '^[A-Za-z0-9.-]+:/$',
  'fsx-lustre': '^[A-Za-z0-9.-]+@tcp:/[A-Za-z0-9]+$',
};

/**
 * The head's idle settings: the config's `idle`, with the slurm detector on (the queue and the compute nodes are
 * the head's work). The detectors that find nothing on a head (neuron, gpu) stay as they are: they find nothing.
 */
export function headIdleSettings(idle: IdleSettings): IdleSettings {
  return { ...idle, detectors: { ...idle.detectors, slurm: true } };
}
const program = (file: string) => `${CLUSTER_PROGRAMS_DIR}/${file}`;

export interface HeadAgentProps {
  /** The config's `name`; labels the document. */
  readonly name: string;
  /** The head's slurm.conf (renderSlurmConf). */
  readonly slurmConf: string;
  /** The head's cluster.conf (renderClusterConf), with the munge key's parameter. */
  readonly clusterConf: string;
  /** The compute nodes' subnet, masqueraded out of the head. */
  readonly nodeSubnetCidr: string;
  /** The AWS region, where the head publishes its idle verdict. */
  readonly region: string;
  /** The config's `idle` settings; the head's turn the slurm detector on (headIdleSettings). */
  readonly idle: IdleSettings;
  /** The shared storage's type; its mount source is the association's `sharedStorageSource`. */
  readonly sharedStorageType: SharedStorageType;
}

/** How long SSM lets the head's installer run: packages and AWS's CLI bundle come over the network. */
const HEAD_AGENT_TIMEOUT_SECONDS = 1800;

function headFeatures(props: HeadAgentProps): Feature[] {
  const cluster = (file: string) => readUserdataFile(`cluster/${file}`);
  // The programs without their comment lines (shippedCopy); the units and settings as they are.
  const code = (file: string) => readShippedCopy(`cluster/${file}`);
  const { lib, resume, suspend, resumeFail, reconcile, mungeKey } = CLUSTER_PROGRAMS;
  const headPrograms = [resume, suspend, resumeFail, reconcile, mungeKey, HEAD_STEPS.nat, HEAD_STEPS.awsCli];
  return [
    {
      files: [
        { path: program(lib), mode: '0644', content: code(lib) },
        ...headPrograms.map((file) => ({ path: program(file), mode: '0755', content: code(file) })),
        { path: CLUSTER_CONF_PATH, mode: '0644', content: props.clusterConf },
        { path: SLURM_CONF_PATH, mode: '0644', content: props.slurmConf },
      ],
      // A new slurm.conf restarts slurmctld (its state is kept in StateSaveLocation). munge is munge-key.sh's.
      units: [{ name: SLURMCTLD_SERVICE, watched: [SLURM_CONF_PATH] }],
    },
    {
      files: [
        { path: `${UNIT_DIR}/${RECONCILE_SERVICE}`, mode: '0644', content: cluster(RECONCILE_SERVICE) },
        { path: `${UNIT_DIR}/${RECONCILE_TIMER}`, mode: '0644', content: cluster(RECONCILE_TIMER) },
      ],
      // The pass itself is a oneshot the timer starts afresh: a new script or unit needs no restart.
      units: [{ name: RECONCILE_TIMER, watched: [`${UNIT_DIR}/${RECONCILE_TIMER}`] }],
    },
    {
      // mount-shared.sh and the library it sources, as the nodes have them; the manifest's run line mounts /shared.
      files: [
        { path: program(HEAD_STEPS.setupLib), mode: '0644', content: code(HEAD_STEPS.setupLib) },
        { path: program(HEAD_STEPS.mountShared), mode: '0755', content: code(HEAD_STEPS.mountShared) },
      ],
      units: [],
    },
    {
      files: [
        { path: NAT_SYSCTL_PATH, mode: '0644', content: cluster('60-trainium-spot-nat.conf') },
        { path: `${UNIT_DIR}/${NAT_SERVICE}`, mode: '0644', content: fillTemplate(`cluster/${NAT_SERVICE}`, { NODE_SUBNET_CIDR: props.nodeSubnetCidr }) },
      ],
      units: [{ name: NAT_SERVICE, watched: [program(HEAD_STEPS.nat), `${UNIT_DIR}/${NAT_SERVICE}`] }],
    },
  ];
}

/** The head agent's document: what State Manager runs on the head (and only there). */
export function renderHeadAgentDocument(props: HeadAgentProps): AgentDocument {
  if (!ipaddr.IPv4.isValidCIDR(props.nodeSubnetCidr)) {
    throw new Error(`nodeSubnetCidr: got ${JSON.stringify(props.nodeSubnetCidr)}; an IPv4 CIDR block`);
  }
  const features = headFeatures(props);
  const idle = headIdleSettings(props.idle);
  // The idle check as a box has it (off, and taken off, with idle.enabled: false).
  const idleCheck = featureManifest(idleCheckFeature(idle, props.region), idle.enabled);
  const files: AgentFile[] = [...features.flatMap((f) => [...f.files]), ...idleCheck.files];
  const manifest = [
    `version ${packageVersion()}`,
    `apt ${HEAD_PACKAGES.join(' ')}`,
    ...features.flatMap(featureLines),
    ...idleCheck.lines,
    instanceArnPrefixLine(idle),
    // The steps that act on the head, once the files they use are in place: AWS's CLI first (the others call it),
    // /shared before the munge key, so that no job ever sees a head without /shared. SSM fills in the source.
    `run ${program(HEAD_STEPS.awsCli)}`,
    `run ${program(HEAD_STEPS.mountShared)} ${props.sharedStorageType} {{ ${SHARED_STORAGE_SOURCE_PARAMETER} }} ${SHARED_MOUNT_POINT}`,
    `run ${program(CLUSTER_PROGRAMS.mungeKey)} --generate`,
    'aws required',
  ];
  const document = renderInstallerDocument({
    about: `${props.name}: trainium-spot's cluster head agent (slurmctld, munge, the power-saving programs, the nodes' NAT, ` +
      '/shared, the idle check); sinfo, journalctl -u slurmctld, sudo trainium-spot-idle status, /etc/trainium-spot/agent.json.',
    description: `${props.name}: installs and keeps the cluster head's software (Slurm controller, munge and its key, ` +
      'power saving, NAT for the nodes, /shared, the idle check). Rendered by trainium-spot; change the config, not this document.',
    manifest,
    files,
    parameters: {
      instanceArnPrefix: instanceArnPrefixParameter(props.region, "head's"),
      [SHARED_STORAGE_SOURCE_PARAMETER]: {
        type: 'String',
        description: `The mount source of the cluster's shared storage (${props.sharedStorageType}), mounted at ${SHARED_MOUNT_POINT}.`,
        // No default: the head is not set up without /shared.
        allowedPattern: SHARED_STORAGE_SOURCE_PATTERNS[props.sharedStorageType],
      },
    },
    // install-agent.sh MANIFEST DOCUMENT_HASH PUBLIC_KEY INSTANCE_ARN_PREFIX: the head authorizes no key.
    installerArguments: [NO_ARGUMENT, 'instanceArnPrefix'],
    timeoutSeconds: HEAD_AGENT_TIMEOUT_SECONDS,
  });
  return fitsSsm(document, props.idle, "the cluster head agent's SSM document");
}
