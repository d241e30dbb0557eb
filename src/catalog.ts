/**
 * Facts about EC2 instance types, quotas and prices: one table, each entry with its source.
 *
 * The stack, the config validation and the preflight CLI all read from here; nothing else in the
 * project may hold a second copy of these numbers. This module imports nothing of ours.
 */

// ---------------------------------------------------------------------------------------------
// Quotas
// ---------------------------------------------------------------------------------------------

/** A Service Quotas entry of the `ec2` service, counted in vCPUs. */
export interface QuotaRef {
  readonly code: string;
  readonly name: string;
}

/** The EC2 instance families that share one vCPU quota per purchase market. */
export type QuotaFamily = 'trn' | 'inf' | 'p' | 'g-vt' | 'standard';

/** Purchase markets that draw on a quota. Capacity Blocks and reservations draw on the on-demand one. */
export type QuotaMarket = 'spot' | 'on-demand';

/** The Service Quotas service code that holds every EC2 instance quota. */
export const EC2_SERVICE_CODE = 'ec2';

/**
 * vCPU quotas per family and market.
 * Source: Service Quotas console / `aws service-quotas list-service-quotas --service-code ec2`,
 * and the EC2 User Guide, "Amazon EC2 service quotas" (vCPU-based On-Demand and Spot limits).
 * The "Running Dedicated trn Hosts" quota that older guides name counts Dedicated Hosts; it has
 * nothing to do with spot or on-demand instances.
 */
export const QUOTAS: Readonly<Record<QuotaFamily, Readonly<Record<QuotaMarket, QuotaRef>>>> = {
  trn: {
    spot: { code: 'L-6B0D517C', name: 'All Trn Spot Instance Requests' },
    'on-demand': { code: 'L-2C3B7624', name: 'Running On-Demand Trn instances' },
  },
  inf: {
    spot: { code: 'L-B5D1601B', name: 'All Inf Spot Instance Requests' },
    'on-demand': { code: 'L-1945791B', name: 'Running On-Demand Inf instances' },
  },
  p: {
    spot: { code: 'L-7212CCBC', name: 'All P Spot Instance Requests' },
    'on-demand': { code: 'L-417A185B', name: 'Running On-Demand P instances' },
  },
  'g-vt': {
    spot: { code: 'L-3819A6DF', name: 'All G and VT Spot Instance Requests' },
    'on-demand': { code: 'L-DB2E81BA', name: 'Running On-Demand G and VT instances' },
  },
  standard: {
    spot: { code: 'L-34B43A08', name: 'All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests' },
    'on-demand': {
      code: 'L-1216C47A',
      name: 'Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances',
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Instance types
// ---------------------------------------------------------------------------------------------

export interface InstanceTypeFacts {
  readonly family: QuotaFamily;
  /** Default vCPUs: what quotas count, whatever CPU options say. */
  readonly vcpus: number;
  readonly defaultCores: number;
  readonly defaultThreadsPerCore: number;
  /** Core counts the CPU options accept. */
  readonly validCores: readonly number[];
  readonly validThreadsPerCore: readonly number[];
  readonly memoryGiB: number;
  readonly accelerators: string;
  /** Region -> AZ IDs that offer the type, in the order we pick a default from. */
  readonly offeredIn: Readonly<Record<string, readonly string[]>>;
  /** On-demand Linux price in USD per hour, US East (N. Virginia). */
  readonly onDemandPricePerHour: number;
  /** Whether EC2 Capacity Blocks for ML can be bought for this type. */
  readonly capacityBlocks: boolean;
  /**
   * Network cards that carry an EFA interface, for multi-node jobs; absent where the type has no EFA.
   * Source: Neuron SDK, "How to prepare trn1.32xlarge for multi-node execution" ("trn1.32xlarge has 8 EFA
   * devices, trn1n.32xlarge has 16"), https://awsdocs-neuron.readthedocs-hosted.com/en/latest/frameworks/torch/torch-neuronx/setup-trn1-multi-node-execution.html;
   * trn2.48xlarge: EC2 User Guide, accelerated computing network specifications (16 network cards), checked 2026-12-07.
   */
  readonly efaNetworkCards?: number;
}

/** Where and when the prices below were read. */
export const PRICE_SOURCE =
  'EC2 On-Demand pricing page, Linux, US East (N. Virginia), as catalogued here; other regions differ, check before relying';

const range = (from: number, to: number, step = 1): number[] => {
  const out: number[] = [];
  for (let n = from; n <= to; n += step) out.push(n);
  return out;
};

// Trn1 regions and AZ IDs: `aws ec2 describe-instance-type-offerings --location-type
// availability-zone-id --filters Name=instance-type,Values=trn1.2xlarge` in each region.
const TRN1_OFFERINGS = {
  'us-east-1': ['use1-az5', 'use1-az6'],
  'us-east-2': ['use2-az3'],
  'us-west-2': ['usw2-az1', 'usw2-az4'],
} as const;

// Inf2 regions: EC2 Inf2 product page ("available in US East (N. Virginia), US East (Ohio),
// US West (Oregon)..."); AZ IDs from describe-instance-type-offerings as above.
const INF2_OFFERINGS = {
  'us-east-1': ['use1-az1', 'use1-az2', 'use1-az4', 'use1-az5', 'use1-az6'],
  'us-east-2': ['use2-az1', 'use2-az2', 'use2-az3'],
  'us-west-2': ['usw2-az1', 'usw2-az2', 'usw2-az3', 'usw2-az4'],
} as const;

/**
 * Supported instance types.
 * vCPUs, cores and threads: `aws ec2 describe-instance-types --query 'InstanceTypes[].VCpuInfo'`
 * (EC2 User Guide, "CPU options for Amazon EC2 instances"). Memory and accelerators: the EC2
 * accelerated-computing instance specifications. Capacity Blocks: EC2 User Guide, "Capacity
 * Blocks for ML", supported instance types.
 */
export const INSTANCE_TYPES: Readonly<Record<string, InstanceTypeFacts>> = {
  'trn1.2xlarge': {
    family: 'trn', vcpus: 8, defaultCores: 4, defaultThreadsPerCore: 2,
    validCores: range(1, 4), validThreadsPerCore: [1, 2],
    memoryGiB: 32, accelerators: '1 Trainium chip (2 NeuronCores-v2)',
    offeredIn: TRN1_OFFERINGS, onDemandPricePerHour: 1.34375, capacityBlocks: false,
  },
  'trn1.32xlarge': {
    family: 'trn', vcpus: 128, defaultCores: 64, defaultThreadsPerCore: 2,
    validCores: range(2, 64, 2), validThreadsPerCore: [1, 2],
    memoryGiB: 512, accelerators: '16 Trainium chips (32 NeuronCores-v2)',
    offeredIn: TRN1_OFFERINGS, onDemandPricePerHour: 21.5, capacityBlocks: true, efaNetworkCards: 8,
  },
  'trn1n.32xlarge': {
    family: 'trn', vcpus: 128, defaultCores: 64, defaultThreadsPerCore: 2,
    validCores: range(2, 64, 2), validThreadsPerCore: [1, 2],
    memoryGiB: 512, accelerators: '16 Trainium chips (32 NeuronCores-v2)',
    offeredIn: { 'us-east-1': ['use1-az6'], 'us-east-2': ['use2-az3'] },
    onDemandPricePerHour: 24.78, capacityBlocks: true, efaNetworkCards: 16,
  },
  'trn2.48xlarge': {
    family: 'trn', vcpus: 192, defaultCores: 96, defaultThreadsPerCore: 2,
    validCores: range(2, 96, 2), validThreadsPerCore: [1, 2],
    memoryGiB: 2048, accelerators: '16 Trainium2 chips (128 NeuronCores-v3)',
    offeredIn: { 'us-east-2': ['use2-az3'] },
    onDemandPricePerHour: 44.7, capacityBlocks: true, efaNetworkCards: 16,
  },
  'inf2.xlarge': {
    family: 'inf', vcpus: 4, defaultCores: 2, defaultThreadsPerCore: 2,
    validCores: range(1, 2), validThreadsPerCore: [1, 2],
    memoryGiB: 16, accelerators: '1 Inferentia2 chip (2 NeuronCores-v2)',
    offeredIn: INF2_OFFERINGS, onDemandPricePerHour: 0.7582, capacityBlocks: false,
  },
  'inf2.8xlarge': {
    family: 'inf', vcpus: 32, defaultCores: 16, defaultThreadsPerCore: 2,
    validCores: range(1, 16), validThreadsPerCore: [1, 2],
    memoryGiB: 128, accelerators: '1 Inferentia2 chip (2 NeuronCores-v2)',
    offeredIn: INF2_OFFERINGS, onDemandPricePerHour: 1.9679, capacityBlocks: false,
  },
  'inf2.24xlarge': {
    family: 'inf', vcpus: 96, defaultCores: 48, defaultThreadsPerCore: 2,
    validCores: range(2, 48, 2), validThreadsPerCore: [1, 2],
    memoryGiB: 384, accelerators: '6 Inferentia2 chips (12 NeuronCores-v2)',
    offeredIn: INF2_OFFERINGS, onDemandPricePerHour: 6.4906, capacityBlocks: false,
  },
  'inf2.48xlarge': {
    family: 'inf', vcpus: 192, defaultCores: 96, defaultThreadsPerCore: 2,
    validCores: range(2, 96, 2), validThreadsPerCore: [1, 2],
    memoryGiB: 768, accelerators: '12 Inferentia2 chips (24 NeuronCores-v2)',
    offeredIn: INF2_OFFERINGS, onDemandPricePerHour: 12.9813, capacityBlocks: false,
  },
};

export const INSTANCE_TYPE_NAMES: readonly string[] = Object.keys(INSTANCE_TYPES);

/**
 * An instance type EC2 sells whose facts (vCPUs, CPU options, price, AZs) the catalog has not verified:
 * `trainium-spot catalog` lists it and `catalog --live` asks EC2 where it is offered, but no config may
 * launch it until it moves, sourced, into INSTANCE_TYPES.
 */
export interface PendingInstanceType {
  /** The quota family: that of every type of its instance family (trn2.48xlarge for trn2). */
  readonly family: QuotaFamily;
  /** What must be verified, with a source, before the type joins INSTANCE_TYPES. */
  readonly unverified: string;
  readonly source: string;
}

export const PENDING_INSTANCE_TYPES: Readonly<Record<string, PendingInstanceType>> = {
  'trn2.3xlarge': {
    family: 'trn',
    unverified: 'vCPUs, default cores and threads, valid CPU options, memory, Trainium2 chips and NeuronCores, EFA, ' +
      'on-demand price, regions and AZ IDs, Capacity Blocks',
    source: 'It exists: the EC2 API instance type enum (_InstanceType) of @aws-sdk/client-ec2 3.1138.0 lists trn2.3xlarge; ' +
      'as a Trn type it draws on the Trn quotas (QUOTAS.trn). Its facts are in no source the catalog takes, searched ' +
      '2026-12-07: the Neuron Trn2 architecture page (https://awsdocs-neuron.readthedocs-hosted.com/en/latest/general/arch/neuron-hardware/trn2-arch.html) ' +
      'lists trn2.48xlarge and trn2u.48xlarge only; the Neuron LNC page (v2.34.0) gives 8 physical NeuronCores per Trainium2 ' +
      'chip but not the chips of a trn2.3xlarge; no stored EC2 User Guide, EC2 pricing, Capacity Blocks or instance-type ' +
      'page names it; aws-neuron/aws-neuron-sdk (newest stored commit 81ce03ae, 2026-08-21) does not; only third-party ' +
      'scripts and READMEs give a size or a price, which are not sources',
  },
};

// ---------------------------------------------------------------------------------------------
// Machine images (Neuron Deep Learning AMIs)
// ---------------------------------------------------------------------------------------------

/** The instance family of a type: what AMIs support, e.g. `trn1` for `trn1.2xlarge`. */
export type InstanceFamily = 'trn1' | 'trn1n' | 'trn2' | 'inf2';

export const INSTANCE_FAMILIES: readonly InstanceFamily[] = ['trn1', 'trn1n', 'trn2', 'inf2'];

/** A Python virtual environment the image ships, and what it holds. */
export interface ImageEnvironment {
  readonly path: string;
  readonly holds: string;
}

/** One Neuron Deep Learning AMI the stack knows by name. */
export interface ImagePreset {
  /** What the image is for, one line. */
  readonly purpose: string;
  /**
   * Public SSM parameter that names the newest image; absent where AWS publishes none, and the
   * newest image whose name starts with `amiNamePrefix` is used instead.
   */
  readonly ssmParameter?: string;
  /**
   * What the AMI's name starts with (the rest is a build date, e.g. ` 20260817`). The plan fails when
   * the image it resolves to is named otherwise; test fixtures build AMI names from it.
   */
  readonly amiNamePrefix: string;
  readonly families: readonly InstanceFamily[];
  /** The environment to activate for the preset's purpose first; `[]` for the base image. */
  readonly environments: readonly ImageEnvironment[];
  /** The Neuron SDK release of the image when it was checked (a parameter may move to a newer one). */
  readonly neuronSdk: string;
  /**
   * Families the image once served that Neuron no longer supports it on; a config naming one fails with
   * the reason and the preset to use instead.
   * @default - none
   */
  readonly retiredFamilies?: Readonly<Partial<Record<InstanceFamily, RetiredFamily>>>;
  /**
   * A newer release of the preset's framework, or of its image, that AWS has published and the catalog does not
   * hold yet, with why (e.g. its DLAMI's name and parameter are unverified); `trainium-spot catalog` prints it.
   * @default - none known
   */
  readonly notYetCatalogued?: string;
  readonly source: string;
}

/** Why an image no longer serves a family, since when, and what does. */
export interface RetiredFamily {
  /** The Neuron SDK release that ended the support, e.g. `2.34.0`. */
  readonly sinceNeuron: string;
  readonly reason: string;
  /** The preset to use on the family instead. */
  readonly use: string;
}

const CHECKED = 'checked 2026-12-01';
const RECHECKED = 'checked 2026-12-07';
const DLAMI_GUIDE = 'https://awsdocs-neuron.readthedocs-hosted.com/en/latest/deploy/environments/dlami.html';
const DLAMI_RELEASE_NOTES = 'https://awsdocs-neuron.readthedocs-hosted.com/en/latest/release-notes/components/dlamis.html';
const NEURON_ANNOUNCEMENTS = 'https://awsdocs-neuron.readthedocs-hosted.com/en/latest/about-neuron/announcements/neuron2.x';
const ALL_FAMILIES: readonly InstanceFamily[] = ['trn1', 'trn1n', 'trn2', 'inf2'];
/**
 * Where the DLAMIs of Neuron 2.33 and 2.34 were looked for and not found: the stored v2.34.0 DLAMI guide holds its
 * opening only, and the stored aws-neuron/aws-neuron-sdk repository ends at Neuron 2.32.
 */
const UNFOUND_DLAMIS = 'searched 2026-12-07: the v2.34.0 DLAMI guide, of which only the opening is stored; ' +
  'aws-neuron/aws-neuron-sdk up to 81ce03ae of 2026-08-21, Neuron 2.32';

/**
 * Neuron DLAMIs, Ubuntu 24.04 only: Ubuntu 22.04 DLAMIs are out of support on Neuron, Amazon Linux
 * 2023 DLAMIs lack PyTorch 2.9+ (and so vLLM), and DLAMIs since Neuron 2.26.1 no longer support Inf1
 * (DLAMI guide, notes). PyTorch/XLA training ended with Neuron 2.30 (PyTorch 2.9 was the last
 * PyTorch/XLA version); from Neuron 2.32 no DLAMI carries torch-neuronx, and PyTorch 2.9 DLAMIs are
 * not published after 2.31.0, so the last one stays behind its parameter; since Neuron 2.34 PyTorch/XLA
 * inference is not supported on Trn2 and Trn3 either, so that image serves Trn1, Trn1n and Inf2 only.
 * Native PyTorch on Neuron (TorchNeuron) supports Trn2 and Trn3 only.
 *
 * A preset outlives the publishing of its DLAMI. AWS keeps the parameter of an older or end-of-life DLAMI, naming
 * its last image (DLAMI guide as of Neuron 2.32: "To discover SSM parameters for older or end-of-life DLAMIs, you can
 * filter by framework, version, or operating system using the path structure
 * /aws/service/neuron/dlami/<framework>-<framework-version>/<os>"; DLAMI release notes, 2.30.0: of the Ubuntu 22.04
 * base DLAMI no longer supported, "retrieve the last published AMI ID via SSM"; aws-neuron/aws-neuron-sdk
 * deploy/environments/dlami.rst and release-notes/components/dlamis.rst at v2.32.0, a3247f5b, read 2026-12-07).
 * So a newer framework release adds a preset beside the older one, as `pytorch-2.9` stays beside
 * `torchneuron-2.14`: a config naming the older preset keeps its image, and `catalog --live` reports the preset
 * should its parameter ever go.
 */
export const IMAGE_PRESETS: Readonly<Record<string, ImagePreset>> = {
  'pytorch-2.9': {
    purpose: 'PyTorch 2.9 training and inference (PyTorch/XLA, torch-neuronx): the last DLAMI with it',
    ssmParameter: '/aws/service/neuron/dlami/pytorch-2.9/ubuntu-24.04/latest/image_id',
    amiNamePrefix: 'Deep Learning AMI Neuron PyTorch 2.9 (Ubuntu 24.04)',
    families: ['trn1', 'trn1n', 'inf2'],
    environments: [
      { path: '/opt/aws_neuronx_venv_pytorch_2_9', holds: 'PyTorch 2.9, torch-neuronx, NxD Core' },
      { path: '/opt/aws_neuronx_venv_pytorch_2_9_nxd_inference', holds: 'PyTorch 2.9, NxD Inference' },
    ],
    neuronSdk: '2.31.0',
    retiredFamilies: {
      trn2: {
        sinceNeuron: '2.34.0',
        reason: 'PyTorch/XLA inference ended on Trn2 and Trn3 in Neuron 2.34, training in 2.30',
        use: 'torchneuron-2.14',
      },
    },
    source: `${DLAMI_GUIDE} as of Neuron 2.31 (single-framework DLAMIs, SSM parameter prefixes); ` +
      `${DLAMI_RELEASE_NOTES} (2.32.0: no longer published, use 2.31.0 or earlier); ` +
      `${NEURON_ANNOUNCEMENTS}/announce-no-support-pytorch-xla-training.html; ${CHECKED}; ` +
      `Trn2 no longer: ${NEURON_ANNOUNCEMENTS}/announce-no-support-torch-xla-inference-trn.html ` +
      `("Starting with Neuron Release 2.34.0, Neuron no longer supports PyTorch/XLA for inference workloads on Trn2 and Trn3"); ${RECHECKED}`,
  },
  'torchneuron-2.14': {
    purpose: 'PyTorch 2.14 training and inference on native PyTorch (TorchNeuron, torch-neuronx 2.14)',
    amiNamePrefix: 'Deep Learning AMI Neuron torch-neuronx 2.14.0 (Ubuntu 24.04)',
    families: ['trn2'],
    environments: [{ path: '/opt/aws_neuronx_venv_torch_neuronx_2_14_0', holds: 'PyTorch 2.14, TorchNeuron' }],
    neuronSdk: '2.33.0',
    source: 'https://awsdocs-neuron.readthedocs-hosted.com/en/v2.33.0/setup/pytorch/update-dlami.html ' +
      '(DLAMI name, environment, Trn2 and Trn3 only; no SSM parameter documented, so found by name); ' +
      `https://awsdocs-neuron.readthedocs-hosted.com/en/v2.33.0/setup/pytorch/index.html; ${CHECKED}`,
  },
  'jax-0.10': {
    purpose: 'JAX 0.10 training and inference',
    ssmParameter: '/aws/service/neuron/dlami/jax-0.10/ubuntu-24.04/latest/image_id',
    amiNamePrefix: 'Deep Learning AMI Neuron JAX 0.10 (Ubuntu 24.04)',
    families: ALL_FAMILIES,
    environments: [{ path: '/opt/aws_neuronx_venv_jax_0_10', holds: 'JAX NeuronX 0.10' }],
    neuronSdk: '2.32.0',
    notYetCatalogued: 'JAX 0.11.2 since Neuron 2.34.0 (0.10.0 to 0.11.2 supported); no stored source names a JAX 0.11 DLAMI, ' +
      `its parameter or its environment (${UNFOUND_DLAMIS}), so this preset stays the catalogued one`,
    source: `${DLAMI_GUIDE} as of Neuron 2.32 (single-framework DLAMIs, SSM parameter prefixes); ${CHECKED}; ` +
      `JAX 0.11.2: ${NEURON_ANNOUNCEMENTS}/announce-support-jax-0-11-2.html and ` +
      `${NEURON_ANNOUNCEMENTS}/announce-no-support-jax-0-8-0-9.html ("The supported JAX versions are 0.10.0 to 0.11.2"); ${RECHECKED}`,
  },
  'vllm-0.24': {
    purpose: 'LLM inference serving with vLLM 0.24 (vllm-neuron 0.24.0.1.1.0)',
    ssmParameter: '/aws/service/neuron/dlami/pytorch-inference-vllm-0.24.0.1.1.0/ubuntu-24.04/latest/image_id',
    amiNamePrefix: 'Deep Learning AMI Neuron PyTorch Inference vLLM 0.24.0.1.1.0 (Ubuntu 24.04)',
    families: ['trn2'],
    environments: [{ path: '/opt/aws_neuronx_venv_pytorch_inference_vllm_0_24_0_1_1_0', holds: 'vLLM 0.24.0, vllm-neuron' }],
    neuronSdk: '2.32.0',
    notYetCatalogued: 'vLLM Neuron 0.29.0.1.2.0 since Neuron 2.33.0; no stored source names a vLLM 0.29 DLAMI, its parameter ' +
      `or its environment (${UNFOUND_DLAMIS}), so this preset stays the catalogued one`,
    source: `${DLAMI_GUIDE} as of Neuron 2.32 (single-framework DLAMIs: Trn2, Trn3); ${CHECKED}; ` +
      'vLLM Neuron 0.29.0.1.2.0: https://awsdocs-neuron.readthedocs-hosted.com/en/v2.33.0/release-notes/components/index.html; ' +
      RECHECKED,
  },
  'multi-framework': {
    purpose: 'JAX and vLLM in one image, no PyTorch training (the newest multi-framework DLAMI)',
    ssmParameter: '/aws/service/neuron/dlami/multi-framework/ubuntu-24.04/latest/image_id',
    amiNamePrefix: 'Deep Learning AMI Neuron (Ubuntu 24.04)',
    families: ALL_FAMILIES,
    environments: [
      { path: '/opt/aws_neuronx_venv_jax_0_10', holds: 'JAX NeuronX 0.10' },
      { path: '/opt/aws_neuronx_venv_pytorch_inference_vllm_0_24_0_1_1_0', holds: 'vLLM 0.24.0, vllm-neuron' },
    ],
    neuronSdk: '2.32.0',
    notYetCatalogued: 'the image of a Neuron release after 2.32 that its parameter names today (Neuron 2.33 DLAMIs ship Python 3.14: ' +
      'v2.33.0 vLLM Neuron setup guide); its environments are unverified, and those listed, of 2.32, may be gone from it ' +
      `(${UNFOUND_DLAMIS}); on the box: ls -d /opt/aws_neuronx_venv_*`,
    source: `${DLAMI_GUIDE} as of Neuron 2.32 (multi-framework DLAMI and its environments); ` +
      `https://awsdocs-neuron.readthedocs-hosted.com/en/v2.32.0/setup/pytorch/update-dlami.html; ${CHECKED}; ` +
      'Neuron 2.33 DLAMI: https://awsdocs-neuron.readthedocs-hosted.com/en/v2.33.0/vllm-neuron/docs/getting-started/setup-guide.html ' +
      `("The Neuron 2.33 DLAMI and the vLLM Inference DLC ship Python 3.14 on Ubuntu 26.04"); ${RECHECKED}`,
  },
  base: {
    purpose: 'Neuron driver, runtime, tools and EFA only: bring your own framework or containers',
    ssmParameter: '/aws/service/neuron/dlami/base/ubuntu-24.04/latest/image_id',
    amiNamePrefix: 'Deep Learning Base Neuron AMI (Ubuntu 24.04)',
    families: ALL_FAMILIES,
    environments: [],
    neuronSdk: '2.32.0',
    source: `${DLAMI_GUIDE} as of Neuron 2.32 (base DLAMIs, SSM parameter prefixes); ${CHECKED}`,
  },
};

/**
 * Names that stand for one preset per family. `pytorch`, the default, gives a box that trains with
 * PyTorch out of the box: the last PyTorch/XLA image where TorchNeuron does not run, TorchNeuron on Trn2.
 */
export const IMAGE_ALIASES: Readonly<Record<string, Readonly<Record<InstanceFamily, string>>>> = {
  pytorch: { trn1: 'pytorch-2.9', trn1n: 'pytorch-2.9', inf2: 'pytorch-2.9', trn2: 'torchneuron-2.14' },
};

export const DEFAULT_IMAGE = 'pytorch';

export const IMAGE_PRESET_NAMES: readonly string[] = [...Object.keys(IMAGE_ALIASES), ...Object.keys(IMAGE_PRESETS)];

/** The `image` value for an image named by its own SSM parameter or AMI id instead of a preset. */
export const IMAGE_SSM_PREFIX = 'ssm:';
export const AMI_ID_PATTERN = /^ami-[0-9a-f]{8}([0-9a-f]{9})?$/;
const SSM_PATH_PATTERN = /^\/[A-Za-z0-9_.\-/]+$/;

/**
 * Where AWS publishes the Neuron DLAMI parameters, `<path>/<framework>-<version>/<os>/latest/image_id`
 * (GetParametersByPath lists them), and the one operating system the presets choose from. Source: Neuron
 * DLAMI guide, "Using SSM Parameters for Cloud Automation",
 * https://awsdocs-neuron.readthedocs-hosted.com/en/v2.32.0/deploy/environments/dlami.html, checked 2026-12-07.
 */
export const NEURON_DLAMI_PARAMETER_PATH = '/aws/service/neuron/dlami';
export const DLAMI_OPERATING_SYSTEM = 'ubuntu-24.04';

/** What the name of a DLAMI's newest-image parameter, `<path>/<framework>/<os>/latest/image_id`, says. */
export interface DlamiParameterParts {
  /** The DLAMI's framework and version as the path spells it, e.g. `jax-0.10` or `multi-framework`. */
  readonly framework: string;
  /** e.g. `ubuntu-24.04`, `amazon-linux-2023`. */
  readonly operatingSystem: string;
}

/** The framework and operating system of a parameter that names a DLAMI's newest image; undefined for any other name. */
export function dlamiParameterParts(name: string): DlamiParameterParts | undefined {
  if (!name.startsWith(`${NEURON_DLAMI_PARAMETER_PATH}/`)) return undefined;
  const [framework, operatingSystem, ...rest] = name.slice(NEURON_DLAMI_PARAMETER_PATH.length + 1).split('/');
  return framework && operatingSystem && rest.join('/') === 'latest/image_id' ? { framework, operatingSystem } : undefined;
}

/**
 * Whether a public parameter names the newest image of an Ubuntu 24.04 Neuron DLAMI: one a preset could
 * use. The others (Amazon Linux 2023, other Ubuntu releases) are outside the catalog by choice.
 *
 * A framework that AWS publishes only for another operating system (Neuron 2.33 publishes DLAMIs for Ubuntu 26.04:
 * the v2.33.0 vLLM Neuron setup guide, "The Neuron 2.33 DLAMI and the vLLM Inference DLC ship Python 3.14 on
 * Ubuntu 26.04", https://awsdocs-neuron.readthedocs-hosted.com/en/v2.33.0/vllm-neuron/docs/getting-started/setup-guide.html,
 * checked 2026-12-07) is not drift either. No catalog edit can take it: a preset on another release would move the
 * boxes and the cluster nodes off the release the cluster head runs (HEAD_IMAGE_PARAMETER), whose Slurm comes from
 * that release's archive and must match the nodes'. Moving is a decision about the whole project, taken once, not a
 * difference to mend; as drift it would hold `catalog --live` at exit 1 until then. `catalog --live` names such
 * frameworks instead, on a line of its own.
 */
export function isPresetCandidateParameter(name: string): boolean {
  return dlamiParameterParts(name)?.operatingSystem === DLAMI_OPERATING_SYSTEM;
}

/**
 * A DLAMI parameter of the catalog's operating system that an earlier Neuron release's DLAMI guide names, whose DLAMI a
 * newer one has replaced, and that no preset uses on purpose. AWS keeps such parameters, naming their last image (see
 * IMAGE_PRESETS), so `catalog --live` lists them as known rather than as drift, and a gone one is not drift either.
 */
export interface SupersededDlamiParameter {
  /** `<path>/<framework>/<os>/latest/image_id`. */
  readonly ssmParameter: string;
  /** The last Neuron release whose DLAMI guide names it, e.g. `2.31.1`. */
  readonly lastListedIn: string;
  /** The DLAMI, or the preset, that replaced it. */
  readonly supersededBy: string;
  readonly source: string;
}

/**
 * The DLAMI guide in the aws-neuron/aws-neuron-sdk repository: `dlami/index.rst` up to v2.29.1,
 * `deploy/environments/dlami.rst` from v2.30.0, its table "SSM Parameter Prefix" (the parameter is the prefix
 * followed by `/latest/image_id`). Tags with their commits, read 2026-12-07.
 */
const NEURON_SDK_REPO = 'https://github.com/aws-neuron/aws-neuron-sdk';
const guideListing = (range: string, notAt: string): string =>
  `${NEURON_SDK_REPO}, DLAMI guide (dlami/index.rst to v2.29.1, deploy/environments/dlami.rst from v2.30.0), ` +
  `table "SSM Parameter Prefix": listed at ${range}; not at ${notAt}; ${RECHECKED}`;

export const SUPERSEDED_DLAMI_PARAMETERS: readonly SupersededDlamiParameter[] = [
  {
    ssmParameter: '/aws/service/neuron/dlami/jax-0.7/ubuntu-24.04/latest/image_id',
    lastListedIn: '2.29.1',
    supersededBy: 'the JAX 0.9 DLAMI (Neuron 2.30.0), then jax-0.10',
    source: guideListing('v2.27.0 (0fae2f1c) to v2.29.1 (6616e998, 2026-05-01)', 'v2.30.0 (3afa0fdf)'),
  },
  {
    ssmParameter: '/aws/service/neuron/dlami/jax-0.9/ubuntu-24.04/latest/image_id',
    lastListedIn: '2.31.1',
    supersededBy: 'jax-0.10 (Neuron 2.32.0)',
    source: guideListing('v2.30.0 (3afa0fdf) to v2.31.1 (c19b2e69, 2026-08-12)', 'v2.32.0 (a3247f5b)'),
  },
  {
    ssmParameter: '/aws/service/neuron/dlami/pytorch-2.8/ubuntu-24.04/latest/image_id',
    lastListedIn: '2.31.1',
    supersededBy: 'pytorch-2.9',
    source: `${NEURON_SDK_REPO}, deploy/environments/dlami.rst at v2.30.0 (3afa0fdf) to v2.31.1 (c19b2e69, 2026-08-12): ` +
      'named only in the example "Filter by framework and OS" for older or end-of-life DLAMIs, never in the table "SSM ' +
      'Parameter Prefix"; the PyTorch 2.8 DLAMIs of the release notes are for Amazon Linux 2023 and Ubuntu 22.04 ' +
      '(release-notes/2.26.0/dlami.rst), so this one may never have existed; not at v2.32.0 (a3247f5b); PyTorch 2.8 ' +
      `end of support: release-notes/components/dlamis.rst at v2.32.0; ${RECHECKED}`,
  },
  {
    ssmParameter: '/aws/service/neuron/dlami/pytorch-inference-vllm/ubuntu-24.04/latest/image_id',
    lastListedIn: '2.28.0',
    supersededBy: 'the vLLM 0.13 DLAMI (Neuron 2.28.1), then vllm-0.24',
    source: guideListing('v2.27.0 (0fae2f1c) to v2.28.0 (86a92868, 2026-02-25)', 'v2.28.1 (3840fff1)'),
  },
  {
    ssmParameter: '/aws/service/neuron/dlami/pytorch-inference-vllm-0.13/ubuntu-24.04/latest/image_id',
    lastListedIn: '2.28.1',
    supersededBy: 'the vLLM 0.16 DLAMI (Neuron 2.29.0), then vllm-0.24',
    source: guideListing('v2.28.1 (3840fff1, 2026-03-13)', 'v2.29.0 (4b730ec5)'),
  },
  {
    ssmParameter: '/aws/service/neuron/dlami/pytorch-inference-vllm-0.16/ubuntu-24.04/latest/image_id',
    lastListedIn: '2.31.1',
    supersededBy: 'vllm-0.24 (Neuron 2.32.0)',
    source: guideListing('v2.29.0 (4b730ec5) to v2.31.1 (c19b2e69, 2026-08-12)', 'v2.32.0 (a3247f5b)'),
  },
  {
    ssmParameter: '/aws/service/neuron/dlami/pytorch-inference-vllm-0.21.0.1.0.0/ubuntu-24.04/latest/image_id',
    lastListedIn: '2.31.1',
    supersededBy: 'vllm-0.24 (Neuron 2.32.0)',
    source: guideListing('v2.31.1 (c19b2e69, 2026-08-12)', 'v2.32.0 (a3247f5b)'),
  },
];

/** An `image` choice, resolved for one instance family. */
export type ImageChoice =
  | { readonly kind: 'preset'; readonly name: string; readonly preset: ImagePreset }
  | { readonly kind: 'ssm'; readonly ssmParameter: string }
  | { readonly kind: 'ami'; readonly amiId: string };

/** The architecture every supported instance type runs. */
export const IMAGE_ARCHITECTURE = 'x86_64';

export function instanceFamily(instanceType: string): InstanceFamily | undefined {
  const family = instanceType.split('.')[0];
  return (INSTANCE_FAMILIES as readonly string[]).includes(family) ? (family as InstanceFamily) : undefined;
}

/** `, as the default pytorch does` when aliases pick the preset on the family; else nothing. */
function aliasesPicking(preset: string, family: InstanceFamily): string {
  const aliases = Object.keys(IMAGE_ALIASES).filter((alias) => IMAGE_ALIASES[alias][family] === preset);
  const named = aliases.map((alias) => (alias === DEFAULT_IMAGE ? `the default ${alias}` : alias));
  return named.length > 0 ? `, as ${named.join(' and ')} ${named.length === 1 ? 'does' : 'do'}` : '';
}

/** Presets (aliases first) that support the family. */
export function presetsFor(family: InstanceFamily): string[] {
  return IMAGE_PRESET_NAMES.filter((name) => Object.prototype.hasOwnProperty.call(IMAGE_ALIASES, name) ||
    IMAGE_PRESETS[name].families.includes(family));
}

/**
 * Resolves an `image` value for an instance family, or says in one predicate phrase why it cannot
 * (for "image "x" <reason>").
 */
export function resolveImage(image: string, family: InstanceFamily): ImageChoice | { readonly problem: string } {
  if (image.startsWith(IMAGE_SSM_PREFIX)) {
    const path = image.slice(IMAGE_SSM_PREFIX.length);
    return SSM_PATH_PATTERN.test(path)
      ? { kind: 'ssm', ssmParameter: path }
      : { problem: 'must name an SSM parameter path after "ssm:", e.g. ssm:/aws/service/neuron/dlami/base/ubuntu-24.04/latest/image_id' };
  }
  if (image.startsWith('ami-')) {
    return AMI_ID_PATTERN.test(image) ? { kind: 'ami', amiId: image } : { problem: 'is not an AMI id; expected e.g. ami-0123456789abcdef0' };
  }
  const name = Object.prototype.hasOwnProperty.call(IMAGE_ALIASES, image) ? IMAGE_ALIASES[image][family] : image;
  if (!Object.prototype.hasOwnProperty.call(IMAGE_PRESETS, name)) {
    return { problem: `is not a preset; allowed: ${IMAGE_PRESET_NAMES.join(', ')}, ssm:<parameter path> or an ami-... id` };
  }
  const preset = IMAGE_PRESETS[name];
  const retired = preset.retiredFamilies?.[family];
  if (retired) {
    return { problem: `does not support ${family} since Neuron ${retired.sinceNeuron} (${retired.reason}); ` +
      `use ${retired.use}${aliasesPicking(retired.use, family)}` };
  }
  if (!preset.families.includes(family)) {
    return { problem: `does not support ${family}; presets that do: ${presetsFor(family).join(', ')}` };
  }
  return { kind: 'preset', name, preset };
}

/** `source <environment>/bin/activate` for the image's first environment; undefined where none is known. */
export function activateCommand(choice: ImageChoice): string | undefined {
  const environment = choice.kind === 'preset' ? choice.preset.environments[0] : undefined;
  return environment && `source ${environment.path}/bin/activate`;
}

// ---------------------------------------------------------------------------------------------
// Storage limits
// ---------------------------------------------------------------------------------------------

/** gp3 limits. Source: EC2 User Guide, "Amazon EBS General Purpose SSD volumes" (gp3). */
export const GP3 = {
  minSizeGiB: 1,
  maxSizeGiB: 16384,
  minIops: 3000,
  maxIops: 16000,
  maxIopsPerGiB: 500,
  minThroughputMiBps: 125,
  maxThroughputMiBps: 1000,
  /** Throughput may be at most IOPS / 4 (0.25 MiB/s per provisioned IOPS). */
  maxThroughputPerIops: 0.25,
} as const;

/**
 * The data volume (`dataVolume`): one gp3 EBS volume per box, kept when its box is replaced.
 * - `deviceName`: the name the attachment gives EC2, the first of the names AWS recommends for EBS data
 *   volumes (/dev/sd[f-p]). On Nitro instances (every type in this catalog) the box never sees it: the volume
 *   is an NVMe device, /dev/nvme<N>n1, numbered in the order the devices answer at boot. The agent finds it by
 *   its volume id instead (src/userdata/data-volume.sh says how), and `status` by this name.
 * - `mountPoint`: where the agent mounts it.
 * - `finalSnapshotTimeout`: how long deleting a volume may wait for its final snapshot. The provider's
 *   default is 5 to 10 minutes (resourceEBSVolume, `Timeouts.Delete`), and AWS says of a snapshot: "This can
 *   take several hours to complete, depending on the number of modified blocks"; the first snapshot of a
 *   volume copies every block written.
 * Sources, checked 2026-12-07: EC2 User Guide, "Device names for volumes on Amazon EC2 instances",
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/device_naming.html; Amazon EBS User Guide, "Map Amazon
 * EBS volumes to NVMe device names", https://docs.aws.amazon.com/ebs/latest/userguide/identify-nvme-ebs-device.html,
 * and "Create Amazon EBS snapshots", https://docs.aws.amazon.com/ebs/latest/userguide/ebs-creating-snapshot.html;
 * hashicorp/terraform-provider-aws internal/service/ec2/ebs_volume.go.
 */
export const DATA_VOLUME = {
  deviceName: '/dev/sdf',
  mountPoint: '/data',
  finalSnapshotTimeout: '6h',
} as const;

/**
 * The longest `name_prefix` of an IAM role the AWS provider accepts: a role name is at most 64 characters, and
 * Terraform adds a 26-character suffix to a prefix. Source: provider 5.100.0's validate ("expected length of
 * name_prefix to be in the range (1 - 38)"), checked 2026-12-07.
 */
export const IAM_ROLE_NAME_PREFIX_MAX = 38;

/** EC2 limit on raw user data, in bytes. Source: EC2 User Guide, "Run commands at launch". */
export const USER_DATA_LIMIT_BYTES = 16384;

/**
 * SSM limit on a document's content, in bytes, parameters given at run time included. Source: SSM API
 * Reference, CreateDocument (`Content`: "must not exceed 64KB"; MaxDocumentSizeExceeded),
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateDocument.html, checked 2026-12-07.
 */
export const SSM_DOCUMENT_LIMIT_BYTES = 65536;

/**
 * Prefixes AWS reserves for SSM document names (same source as SSM_DOCUMENT_LIMIT_BYTES, `Name`),
 * compared without regard to case.
 */
export const RESERVED_DOCUMENT_NAME_PREFIXES = ['aws', 'amazon', 'amzn'] as const;

/**
 * How often State Manager re-runs the agent on every box, mending what drifted (a unit disabled or a
 * file edited by hand). 30 minutes is the shortest rate State Manager allows for an association.
 * Source: Systems Manager User Guide, "Reference: Cron and rate expressions for Systems Manager"
 * (associations: rate expressions of 30 minutes or more), checked 2026-12-07.
 */
export const AGENT_SCHEDULE = 'rate(30 minutes)';

// ---------------------------------------------------------------------------------------------
// What the stack creates and the CLI looks for
// ---------------------------------------------------------------------------------------------

/** The tag every box carries (beside `Name` = the config's name): the CLI finds boxes by both. */
export const MANAGED_BY_TAG = { key: 'ManagedBy', value: 'trainium-spot' } as const;

/**
 * The tag that tells one deployment's boxes from another's of the same name in the same account and region:
 * its value is the deployment's id, which the stack outputs as DEPLOYMENT_ID_OUTPUT.
 */
export const DEPLOYMENT_TAG_KEY = 'trainium-spot:deployment';

/** The stack output that holds the deployment's id (`terraform output -raw deployment_id`). */
export const DEPLOYMENT_ID_OUTPUT = 'deployment_id';

/**
 * What a deployment id looks like: the `id` Terraform gives a `terraform_data` resource when it creates it,
 * a random UUID in lower-case hex, 8-4-4-4-12. Sources: Terraform's applyDataStoreResourceChange calls
 * uuid.GenerateUUID (https://github.com/hashicorp/terraform/blob/main/internal/builtin/providers/terraform/resource_data.go),
 * which formats 16 random bytes as "%x-%x-%x-%x-%x" over 4, 2, 2, 2 and 6 of them
 * (https://github.com/hashicorp/go-uuid/blob/master/uuid.go); both checked 2026-12-07.
 */
export const DEPLOYMENT_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The tag keys the stack sets itself: `Project` and `Name` (the config's name), MANAGED_BY_TAG and
 * DEPLOYMENT_TAG_KEY. The CLI, the idle stop rule and the agent's association (by the deployment's id, so
 * two deployments of one name never run each other's agent) find the boxes by them, so the config's `tags`
 * may not set them.
 */
export const OWN_TAG_KEYS = {
  project: 'Project', managedBy: MANAGED_BY_TAG.key, name: 'Name', deployment: DEPLOYMENT_TAG_KEY,
} as const;

/** The State Manager association that installs the agent: `trainium-spot status` reads its state per box. */
export const agentAssociationName = (name: string): string => `${name}-agent`;

/**
 * Where SSM keeps generated private keys, followed by the key pair id: the path AWS itself uses for
 * the keys it generates. Source: AWS CloudFormation User Guide, AWS::EC2::KeyPair ("the private key
 * is saved to AWS Systems Manager Parameter Store ... /ec2/keypair/{key_pair_id}"),
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ec2-keypair.html, checked 2026-12-01.
 */
export const KEY_PARAMETER_PREFIX = '/ec2/keypair/';

/**
 * The cluster head's image: Canonical's Ubuntu 24.04 LTS, the release of the Neuron DLAMIs, so Slurm from
 * Ubuntu's archive is one version on the head and the nodes. Canonical publishes the current AMI under
 * `/aws/service/canonical/ubuntu/PRODUCT/RELEASE/stable/current/ARCH/VIRT_TYPE/VOL_TYPE/ami-id`
 * (Ubuntu Discourse, "Finding Ubuntu images with the AWS SSM Parameter Store",
 * https://discourse.ubuntu.com/t/finding-ubuntu-images-with-the-aws-ssm-parameter-store/15507, checked 2026-12-07;
 * the gp3 volume type for 24.04 not checked against a live account).
 */
export const HEAD_IMAGE_PARAMETER = '/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id';

/** The tag every instance of a cluster carries (value: the config's name): the head may terminate only those. */
export const CLUSTER_TAG_KEY = 'trainium-spot:cluster';

/**
 * Tag on every compute instance and its volumes; its value is the Slurm node name. The node reads it back
 * from instance metadata (`tags/instance/slurm:node`; the launch template must allow instance tags in
 * metadata). A key served there must be a single path segment, so it holds no `/`. Not verified against a
 * real instance: that IMDS serves a key with `:` as-is.
 */
export const NODE_TAG_KEY = 'slurm:node';

/**
 * The tag only the head carries (value: the cluster's name): its agent association targets it, and the CLI finds
 * the head by it. Compute nodes carry the cluster tag and NODE_TAG_KEY, never this one.
 */
export const HEAD_TAG_KEY = 'trainium-spot:head';

/** The login user of the Ubuntu-based Neuron DLAMIs. */
export const LOGIN_USER = 'ubuntu';

/** The file in ~/.ssh that holds a generated private key: one per key pair, so never a stale one. */
export const keyFileName = (name: string, keyPairId: string): string => `${name}-${keyPairId}.pem`;

/**
 * ssh's ProxyCommand through Session Manager: ssh connects to the instance id (%h), no open port.
 * Source: Systems Manager User Guide, "Allow and control permissions for SSH connections through
 * Session Manager" (AWS-StartSSHSession), https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-getting-started-enable-ssh-connections.html,
 * checked 2026-12-01.
 */
export const sessionManagerProxyCommand = (region: string): string =>
  `aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p --region ${region}`;

/**
 * The custom metric the on-box idle check publishes after each check, per box (dimension
 * `InstanceId`): 1 when the check stops the box (idle for the whole window), 0 otherwise. The
 * backstop alarms read it and `status` shows the latest value.
 *
 * Each box publishes into a namespace of its own, verdictNamespace(<its instance ARN>), the only one its
 * role allows: CloudWatch scopes PutMetricData by namespace (`cloudwatch:namespace`) and has no condition
 * key on dimensions, so in one shared namespace any box could publish any other box's verdict and stop it,
 * or silence its backstop (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html,
 * checked 2026-12-07). `namespaceRoot` is what every box's namespace starts with.
 */
export const IDLE_METRIC = { namespaceRoot: 'TrainiumSpot/Idle', name: 'StopVerdict', dimension: 'InstanceId' } as const;

/**
 * The namespace of one box's verdict: IDLE_METRIC's root, a slash, the box's instance ARN. The ARN is what
 * IAM's `${ec2:SourceInstanceARN}` holds in a call signed with the box's role credentials
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html, checked 2026-12-07).
 * A valid namespace: 1 to 255 ASCII characters without control characters, not starting with `:`
 * (CloudWatch API Reference, PutMetricData and Metric, checked 2026-12-07); `TrainiumSpot/Idle/` and the
 * longest ARN a supported region gives are under 100.
 */
export const verdictNamespace = (instanceArn: string): string => `${IDLE_METRIC.namespaceRoot}/${instanceArn}`;

/**
 * An EC2 instance's ARN up to its id: `arn:${Partition}:ec2:${Region}:${Account}:instance/`, followed by the
 * instance id (Service Authorization Reference, Amazon EC2, resource type `instance`,
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html, checked 2026-12-07).
 */
export const instanceArnPrefix = (partition: string, region: string, account: string): string =>
  `arn:${partition}:ec2:${region}:${account}:instance/`;

// ---------------------------------------------------------------------------------------------
// Look-ups
// ---------------------------------------------------------------------------------------------

export function instanceFacts(instanceType: string): InstanceTypeFacts | undefined {
  return Object.prototype.hasOwnProperty.call(INSTANCE_TYPES, instanceType)
    ? INSTANCE_TYPES[instanceType]
    : undefined;
}

/** Regions that offer the type, sorted. */
export function regionsOffering(instanceType: string): string[] {
  return Object.keys(instanceFacts(instanceType)?.offeredIn ?? {}).sort();
}

/** Region codes look like `us-east-2` (or `us-gov-west-1`). */
export const REGION_PATTERN = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;

/**
 * The AWS partition of a region code REGION_PATTERN admits: `cn-*` is aws-cn, `us-gov-*` aws-us-gov,
 * every other aws. Source: the AWS SDK for JavaScript v3's partition table (`regionRegex`
 * `^cn\-\w+\-\d+$` and `^us\-gov\-\w+\-\d+$`; the installed @aws-sdk/core carries the same),
 * https://github.com/aws/aws-sdk-js-v3/blob/main/packages/util-endpoints/src/lib/aws/partitions.json, checked 2026-12-07.
 */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** AZ IDs look like `use2-az3`: a region abbreviation and an AZ number. */
export const AZ_ID_PATTERN = /^[a-z]{2,4}\d-az\d{1,2}$/;

/** The shell command that asks for more quota. */
export function quotaIncreaseCommand(quota: QuotaRef, desiredVcpus: number, region: string): string {
  return (
    `aws service-quotas request-service-quota-increase --service-code ${EC2_SERVICE_CODE} ` +
    `--quota-code ${quota.code} --desired-value ${desiredVcpus} --region ${region}`
  );
}
