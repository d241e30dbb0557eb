/**
 * The JSON that `--output json` prints: one document per run, on stdout, two-space indented.
 *
 * Stability: every field below is always present (absent values are `null`, never missing);
 * dates are ISO 8601 UTC strings; money is USD per hour as a number; vCPUs are numbers.
 * `schemaVersion` changes only when a field is removed or changes meaning; new fields may be added.
 * Errors never produce JSON: they are one line on stderr with exit code 2.
 */
import { QuotaMarket } from '../catalog';

export const SCHEMA_VERSION = 1;

interface Report<C extends string> {
  readonly schemaVersion: typeof SCHEMA_VERSION;
  readonly command: C;
}

// ---------------------------------------------------------------------------------------------
// quota
// ---------------------------------------------------------------------------------------------

export interface QuotaValue {
  readonly serviceCode: string;
  /** e.g. `L-6B0D517C`. */
  readonly code: string;
  /** e.g. `All Trn Spot Instance Requests`. */
  readonly name: string;
  readonly valueVcpus: number;
  /** `aws-default`: the account has no applied value, so this is AWS's default for the quota. */
  readonly source: 'applied' | 'aws-default';
}

export interface UsedInstance {
  readonly instanceId: string;
  readonly instanceType: string;
  /** `on-demand` when EC2 reports no lifecycle; else EC2's InstanceLifecycle (`spot`, `capacity-block`, ...). */
  readonly lifecycle: string;
  readonly state: string;
  /** Default vCPUs of the type: what the quota counts, whatever its CPU options are. */
  readonly vcpus: number;
}

export interface IncreaseAdvice {
  /** In use plus what was asked for, rounded up to a multiple of the instance's vCPUs. */
  readonly desiredVcpus: number;
  /** The `aws service-quotas request-service-quota-increase ...` command. */
  readonly cliCommand: string;
  readonly consolePath: string;
  readonly consoleUrl: string;
}

/** `quota`: does one more instance (or `--count` more) fit in the vCPU quota? */
export interface QuotaReport extends Report<'quota'> {
  readonly region: string;
  readonly instanceType: string;
  readonly market: QuotaMarket;
  readonly quota: QuotaValue;
  readonly usage: {
    readonly inUseVcpus: number;
    /** Running and pending instances of the quota family in this market. */
    readonly instances: readonly UsedInstance[];
  };
  readonly vcpusPerInstance: number;
  readonly instancesWanted: number;
  readonly neededVcpus: number;
  readonly freeVcpus: number;
  readonly additionalInstancesThatFit: number;
  readonly verdict: 'fits' | 'does-not-fit';
  /** Whether src/catalog.ts lists the type in this region; the quota can exist where the type is not sold. */
  readonly catalogOffersTypeInRegion: boolean;
  /** How to get more quota; `null` when it fits. */
  readonly increase: IncreaseAdvice | null;
}

export interface QuotaRequestRow {
  readonly id: string;
  /** PENDING, CASE_OPENED, APPROVED, DENIED, NOT_APPROVED, CASE_CLOSED, INVALID_REQUEST. */
  readonly status: string;
  readonly desiredVcpus: number | null;
  readonly caseId: string | null;
  readonly created: string | null;
  readonly lastUpdated: string | null;
}

/** `quota --request N`: the increase request just filed. */
export interface QuotaRequestReport extends Report<'quota-request'> {
  readonly region: string;
  readonly instanceType: string;
  readonly market: QuotaMarket;
  /** The quota before the request. */
  readonly quota: QuotaValue;
  readonly request: QuotaRequestRow;
}

/** `quota --status`: every increase request for the quota, newest first. */
export interface QuotaStatusReport extends Report<'quota-status'> {
  readonly region: string;
  readonly instanceType: string;
  readonly market: QuotaMarket;
  readonly quota: { readonly code: string; readonly name: string };
  readonly requests: readonly QuotaRequestRow[];
}

// ---------------------------------------------------------------------------------------------
// capacity
// ---------------------------------------------------------------------------------------------

export interface Reservation {
  /** The Capacity Reservation ID (`cr-...`). */
  readonly id: string;
  readonly kind: 'capacity-block' | 'odcr';
  /** The Capacity Block ID, for Capacity Blocks that report one. */
  readonly capacityBlockId: string | null;
  readonly region: string;
  readonly availabilityZone: string | null;
  readonly availabilityZoneId: string | null;
  readonly instanceType: string;
  readonly platform: string | null;
  readonly state: string;
  readonly totalInstances: number;
  readonly availableInstances: number;
  readonly usedInstances: number;
  readonly startDate: string | null;
  /** `null` for ODCRs without an end date. */
  readonly endDate: string | null;
  readonly durationHours: number | null;
}

export interface CapacitySummary {
  readonly reservations: number;
  readonly instanceTypes: readonly string[];
  readonly totalInstances: number;
  readonly availableInstances: number;
  /** Available as a share of total, one decimal; `null` when total is 0. */
  readonly freePercent: number | null;
  /** Shortest and longest reservation with both dates; `null` when none has. */
  readonly durationHours: { readonly min: number; readonly max: number } | null;
}

export interface CapacitySection {
  readonly summary: CapacitySummary;
  readonly reservations: readonly Reservation[];
}

/** What `--cluster` answers for: the cluster's nodes, and the Capacity Block of a capacity-block cluster. */
export interface ClusterCapacity {
  readonly name: string;
  readonly instanceType: string;
  /** cluster.nodes: the most nodes at once. */
  readonly nodes: number;
  readonly market: string;
  /** cluster.capacityReservationId for a capacity-block market; else `null`. */
  readonly capacityReservationId: string | null;
  /** That reservation as EC2 describes it; `null` when there is none, or EC2 does not know it in the region. */
  readonly reservation: Reservation | null;
  /** Whether the block is active or scheduled, of the node type, with room for all the nodes; `null` without a block. */
  readonly reservationHoldsNodes: boolean | null;
}

/** `capacity`: the account's Capacity Blocks and On-Demand Capacity Reservations. */
export interface CapacityReport extends Report<'capacity'> {
  readonly regions: readonly string[];
  readonly filters: {
    readonly instanceTypes: readonly string[] | null;
    readonly availableOnly: boolean;
    readonly minCapacity: number | null;
    readonly activeOnly: boolean;
  };
  /** `null` when `--odcr` alone was asked for. */
  readonly capacityBlocks: CapacitySection | null;
  /** `null` when `--blocks` alone was asked for. */
  readonly odcrs: CapacitySection | null;
  /** With `--cluster`: the cluster it answered for; else `null`. */
  readonly cluster: ClusterCapacity | null;
}

export interface CapacityBlockOffer {
  readonly offeringId: string;
  readonly region: string;
  readonly availabilityZone: string | null;
  readonly instanceType: string;
  readonly instanceCount: number;
  readonly startDate: string | null;
  readonly endDate: string | null;
  readonly durationHours: number | null;
  readonly upfrontFee: number | null;
  readonly currency: string | null;
}

/** `capacity --offerings`: Capacity Blocks that can be bought now. */
export interface CapacityOfferingsReport extends Report<'capacity-offerings'> {
  readonly instanceType: string;
  readonly instanceCount: number;
  readonly durationHours: number;
  readonly regions: readonly string[];
  readonly offerings: readonly CapacityBlockOffer[];
}

// ---------------------------------------------------------------------------------------------
// spot-price
// ---------------------------------------------------------------------------------------------

export interface SpotZonePrice {
  readonly region: string;
  readonly availabilityZone: string;
  /** From DescribeAvailabilityZones; `null` if the zone was not listed. */
  readonly availabilityZoneId: string | null;
  readonly pricePerHour: number;
  /** When the current price took effect. */
  readonly since: string | null;
  readonly minPricePerHour24h: number;
  readonly maxPricePerHour24h: number;
  /** How much cheaper than the catalog's on-demand price, in %, one decimal. */
  readonly savingPercent: number;
}

/** `spot-price`: current and last-24-hours spot prices per Availability Zone. */
export interface SpotPriceReport extends Report<'spot-price'> {
  readonly instanceType: string;
  readonly regions: readonly string[];
  readonly productDescription: string;
  readonly window: { readonly start: string; readonly end: string };
  readonly onDemand: { readonly pricePerHour: number; readonly source: string };
  /** Cheapest first. */
  readonly zones: readonly SpotZonePrice[];
  readonly cheapest: SpotZonePrice | null;
}

// ---------------------------------------------------------------------------------------------
// regions
// ---------------------------------------------------------------------------------------------

export interface RegionOffering {
  readonly region: string;
  /** AZ IDs from src/catalog.ts (empty when the catalog does not list the region). */
  readonly catalogAzIds: readonly string[];
  /** AZ IDs from DescribeInstanceTypeOfferings; `null` without `--live`. */
  readonly liveAzIds: readonly string[] | null;
  /** Whether live and catalog agree; `null` without `--live`. */
  readonly matchesCatalog: boolean | null;
}

/** `regions`: where an instance type is offered. */
export interface RegionsReport extends Report<'regions'> {
  readonly instanceType: string;
  readonly live: boolean;
  readonly regions: readonly RegionOffering[];
}

// ---------------------------------------------------------------------------------------------
// image
// ---------------------------------------------------------------------------------------------

export interface ImageEnvironmentRow {
  readonly path: string;
  readonly holds: string;
}

/** `image`: the machine image the stack would launch, as AWS resolves it today. */
export interface ImageReport extends Report<'image'> {
  readonly region: string;
  readonly instanceType: string;
  /** The `image` setting: a preset or alias, `ssm:<path>` or an AMI id. */
  readonly image: string;
  /** The catalog preset it resolved to; `null` for `ssm:` and AMI ids. */
  readonly preset: string | null;
  /** The SSM parameter read; `null` when the image was found by name or given by id. */
  readonly ssmParameter: string | null;
  /** The name filter of a preset without a parameter (newest Amazon AMI); else `null`. */
  readonly nameFilter: string | null;
  readonly ami: {
    readonly id: string;
    readonly name: string | null;
    readonly architecture: string | null;
    readonly creationDate: string | null;
    /** Size of the root device's snapshot in GiB; `null` when EC2 reports none. */
    readonly rootSnapshotSizeGiB: number | null;
    /** When AWS deprecates (or deprecated) the image; `null` when no date is set. */
    readonly deprecationTime: string | null;
  };
  /** The catalog's Neuron SDK release of the preset; `null` for images that are not presets. */
  readonly neuronSdk: string | null;
  readonly environments: readonly ImageEnvironmentRow[];
  /** `source <env>/bin/activate`; `null` where no environment is known. */
  readonly activateCommand: string | null;
  /** False when `terraform plan` would reject the image (not x86_64, or not named as the preset expects). */
  readonly passesPlanGuards: boolean;
  /** Why to look twice: older than a year, deprecated, or failing the plan guards. */
  readonly warnings: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// catalog
// ---------------------------------------------------------------------------------------------

/** One supported instance type as src/catalog.ts holds it. */
export interface CatalogInstanceType {
  readonly name: string;
  /** The quota family, e.g. `trn`. */
  readonly family: string;
  /** Default vCPUs: what quotas count. */
  readonly vcpus: number;
  readonly memoryGiB: number;
  readonly accelerators: string;
  readonly spotQuotaCode: string;
  readonly onDemandQuotaCode: string;
  readonly onDemandPricePerHour: number;
  readonly capacityBlocks: boolean;
  /** Region -> AZ IDs that offer the type. */
  readonly offeredIn: Readonly<Record<string, readonly string[]>>;
}

/** A type EC2 sells whose facts are not verified yet: listed and checked live, never launched. */
export interface CatalogPendingType {
  readonly name: string;
  readonly family: string;
  readonly spotQuotaCode: string;
  readonly onDemandQuotaCode: string;
  readonly unverified: string;
  readonly source: string;
}

export interface CatalogPreset {
  readonly name: string;
  readonly purpose: string;
  /** `null` where AWS publishes none and the newest AMI named `amiNamePrefix ...` is used. */
  readonly ssmParameter: string | null;
  readonly amiNamePrefix: string;
  readonly families: readonly string[];
  /** Families Neuron no longer supports the image on, since when and what to use instead. */
  readonly retiredFamilies: readonly { readonly family: string; readonly sinceNeuron: string; readonly reason: string; readonly use: string }[];
  readonly environments: readonly ImageEnvironmentRow[];
  readonly neuronSdk: string;
  /** A newer framework release the catalog does not hold yet; `null` when none is known. */
  readonly notYetCatalogued: string | null;
  readonly source: string;
}

/**
 * One difference between the catalog and what AWS says today. `parameter-gone`: a preset's parameter
 * does not exist in the region. `parameter-new`: an Ubuntu 24.04 DLAMI parameter no preset uses and not known
 * as superseded (a new DLAMI).
 * `az-new`: EC2 offers the type in an AZ the catalog does not list. `az-gone`: EC2 no longer offers it
 * in an AZ the catalog lists.
 */
export interface CatalogDrift {
  readonly kind: 'parameter-gone' | 'parameter-new' | 'az-new' | 'az-gone';
  readonly region: string;
  /** `parameter-gone`: the preset; else `null`. */
  readonly preset: string | null;
  /** The parameter kinds: its name; else `null`. */
  readonly parameter: string | null;
  /** `parameter-new`: the AMI id it names; else `null`. */
  readonly amiId: string | null;
  /** The AZ kinds: the type and AZ ID; else `null`. */
  readonly instanceType: string | null;
  readonly availabilityZoneId: string | null;
  /** The difference in one line, and what it means. */
  readonly message: string;
}

/** A known superseded DLAMI parameter (SUPERSEDED_DLAMI_PARAMETERS) that AWS still publishes in a region: not drift. */
export interface CatalogSupersededParameter {
  readonly region: string;
  readonly parameter: string;
  /** The AMI id it names; `null` when it has no value. */
  readonly amiId: string | null;
  /** The last Neuron release whose DLAMI guide names it. */
  readonly lastListedIn: string;
  readonly supersededBy: string;
}

/**
 * The DLAMI parameters (newest images) of one Ubuntu release other than the catalog's, in one region: outside the
 * catalog by choice, not drift.
 */
export interface CatalogOtherUbuntuRelease {
  readonly region: string;
  /** e.g. `ubuntu-26.04`. */
  readonly operatingSystem: string;
  readonly parameters: readonly string[];
  /** Their frameworks, as the path spells them, e.g. `multi-framework`. */
  readonly frameworks: readonly string[];
  /** Those of `frameworks` that have no parameter for the catalog's release in the region. */
  readonly frameworksOnlyHere: readonly string[];
}

export interface CatalogLive {
  readonly regions: readonly string[];
  /** The path whose parameters were listed (recursively) in every region. */
  readonly parameterPath: string;
  /** Parameters listed in each region, of which `inScope` an Ubuntu 24.04 DLAMI's newest image. */
  readonly parameters: readonly { readonly region: string; readonly listed: number; readonly inScope: number }[];
  /** The types whose offerings were asked for: the catalog's and the pending ones. */
  readonly instanceTypes: readonly string[];
  /** Empty when the catalog matches AWS. */
  readonly drift: readonly CatalogDrift[];
  /** Known superseded parameters that still exist; one that is gone is not listed, and is not drift either. */
  readonly superseded: readonly CatalogSupersededParameter[];
  /** Per region, each Ubuntu release other than the catalog's that has DLAMI parameters. */
  readonly otherUbuntuReleases: readonly CatalogOtherUbuntuRelease[];
}

/** `catalog`: the facts the stack and the CLI use; with `--live`, how they differ from AWS today. */
export interface CatalogReport extends Report<'catalog'> {
  readonly instanceTypes: readonly CatalogInstanceType[];
  readonly pendingInstanceTypes: readonly CatalogPendingType[];
  readonly imagePresets: readonly CatalogPreset[];
  /** Alias -> family -> preset, e.g. `pytorch` -> `trn2` -> `torchneuron-2.14`. */
  readonly imageAliases: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** `null` without `--live`. */
  readonly live: CatalogLive | null;
}

// ---------------------------------------------------------------------------------------------
// where
// ---------------------------------------------------------------------------------------------

/** How much of one vCPU quota of a region is free, and whether the boxes fit in it. */
export interface QuotaRoom {
  /** e.g. `L-6B0D517C`. */
  readonly code: string;
  readonly name: string;
  readonly valueVcpus: number;
  /** Running and pending instances of the family in this market, in default vCPUs. */
  readonly inUseVcpus: number;
  readonly freeVcpus: number;
  /** Whether `instanceCount` boxes fit in what is free. */
  readonly fits: boolean;
}

/** One AZ that offers the type, with everything that says how likely a box starts there. */
export interface WhereZone {
  /** 1 = best. */
  readonly rank: number;
  readonly region: string;
  readonly availabilityZoneId: string;
  /** This account's name for the AZ; `null` when DescribeAvailabilityZones did not list it. */
  readonly availabilityZone: string | null;
  /**
   * EC2 Spot placement score, 1 (unlikely) to 10 (very likely), for all the boxes in this one AZ;
   * `null` when AWS gave no score for it.
   */
  readonly placementScore: number | null;
  /** `null` when EC2 reported no spot price for the AZ in the last 24 hours. */
  readonly spotPrice: {
    readonly nowPerHour: number;
    readonly since: string | null;
    readonly minPerHour24h: number;
    readonly maxPerHour24h: number;
  } | null;
  /** The region's quotas (every AZ of a region shares them). */
  readonly spotQuota: QuotaRoom;
  readonly onDemandQuota: QuotaRoom;
  /** Capacity Blocks on sale in this AZ; `null` for types without Capacity Blocks. */
  readonly capacityBlocks: { readonly offerings: number; readonly earliestStart: string | null } | null;
}

/** `where`: every AZ that offers the type, best first, and the config lines for the best. */
export interface WhereReport extends Report<'where'> {
  readonly instanceType: string;
  readonly instanceCount: number;
  /** Default vCPUs of all the boxes: the placement scores' target capacity and what the quotas must hold. */
  readonly vcpusNeeded: number;
  readonly regions: readonly string[];
  /** Asked-for regions where EC2 offers the type in no AZ. */
  readonly regionsWithoutType: readonly string[];
  /** Hours of the Capacity Blocks looked for; `null` for types without Capacity Blocks. */
  readonly capacityBlockHours: number | null;
  /** Best first: the spot quota holds the boxes, then higher placement score, then lower spot price. */
  readonly zones: readonly WhereZone[];
  /** The config keys that launch in the best AZ; `null` when no AZ offers the type. */
  readonly config: { readonly region: string; readonly availabilityZoneId: string } | null;
  /** With `--cluster`: the cluster it answered for (and a capacity-block cluster's reservation); else `null`. */
  readonly cluster: ClusterCapacity | null;
}

// ---------------------------------------------------------------------------------------------
// Daily use: status, start, stop, ssh, ssh-config
// ---------------------------------------------------------------------------------------------

/** One box as EC2 describes it. */
export interface BoxState {
  readonly instanceId: string;
  /**
   * `arn:<partition>:ec2:<region>:<account>:instance/<id>`, the account from DescribeInstances' reservation
   * owner; `null` when EC2 names no owner. The box publishes its idle verdict in a namespace named after it.
   */
  readonly instanceArn: string | null;
  /** pending, running, stopping, stopped, shutting-down. */
  readonly state: string;
  /** EC2's InstanceLifecycle (`spot`, `capacity-block`, ...), `on-demand` when there is none. */
  readonly market: string;
  readonly instanceType: string;
  readonly availabilityZone: string | null;
  readonly availabilityZoneId: string | null;
  /** Changes on every start. */
  readonly publicIp: string | null;
  /** When the box last started. */
  readonly launchTime: string | null;
  readonly keyName: string | null;
  /** EC2's state reason code, e.g. `Server.SpotInstanceShutdown` for a spot box stopped for capacity. */
  readonly stateReason: string | null;
  /** Its `trainium-spot:deployment` tag; `null` on a box deployed before deployment ids, until the next apply tags it. */
  readonly deploymentId: string | null;
}

/** The one deployment a box command acted on, among those with boxes of the configured name in the region. */
export interface DeploymentChoice {
  /**
   * The deployment's id: its Terraform output `deployment_id`, which its boxes carry as the `trainium-spot:deployment`
   * tag. `null`: the boxes without that tag (deployed before deployment ids), which count as one deployment.
   */
  readonly id: string | null;
  /**
   * `--deployment`: given by that flag; `--instance-id`: the deployment of the box that flag named (`ssh`);
   * `only-one`: the only deployment with boxes of that name in the region.
   */
  readonly chosenBy: '--deployment' | '--instance-id' | 'only-one';
}

/**
 * The box's software as SSM State Manager last applied it: the stack's association `<name>-agent`,
 * as DescribeInstanceAssociationsStatus reports it for this instance.
 */
export interface AgentStatus {
  /**
   * SSM's association status, lower-cased: `success`, `failed` or `pending`. `none`: SSM has no status
   * of the association for the box (it has not registered with SSM, or the association has not reached
   * it yet). `unknown`: a status SSM does not document; `ssmStatus` has it.
   */
  readonly state: 'success' | 'failed' | 'pending' | 'none' | 'unknown';
  /** SSM's Status as given (`Success`, `Failed`, `Pending`); `null` for `none`. */
  readonly ssmStatus: string | null;
  /** SSM's DetailedStatus, e.g. `Success`, `Failed`, `TimedOut`; `null` when SSM gives none. */
  readonly detailedStatus: string | null;
  /**
   * Why it failed, one line: the DetailedStatus when it says more than the status, and the
   * ExecutionSummary (e.g. `1 out of 1 plugin processed, 0 success, 1 failed, 0 timedout, 0 skipped`, as in
   * AWS's example, https://docs.aws.amazon.com/code-library/latest/ug/ssm_example_ssm_DescribeInstanceAssociationsStatus_section.html,
   * checked 2026-12-07), else `error code <ErrorCode>`; `null` unless `failed`.
   */
  readonly reason: string | null;
  /** SSM's ErrorCode for the run (at most 10 characters); `null` when SSM gives none. */
  readonly errorCode: string | null;
  /** When the association last ran on the box (its ExecutionDate); `null` when it has not run. */
  readonly at: string | null;
  /** The version of the SSM document (the agent's installer) that ran, e.g. `3`; `null` when SSM gives none. */
  readonly documentVersion: string | null;
  /** The version of the association itself, e.g. `1`; `null` when SSM gives none. */
  readonly associationVersion: string | null;
}

/** A box's data volume (config `dataVolume`), as EC2 reports the volume attached to it. */
export interface DataVolumeStatus {
  /** EC2's attachment state (`attached`, `attaching`, `detaching`, `busy`), or `none`: no data volume is attached. */
  readonly state: string;
  readonly volumeId: string | null;
  readonly sizeGiB: number | null;
}

export interface BoxStatus extends BoxState {
  /** Minutes since the last start; `null` unless running. */
  readonly uptimeMinutes: number | null;
  /**
   * The idle check's latest verdict from its CloudWatch metric; `null` when it has published none in the
   * last hour, the box is not running, or reading the metric failed (then `failedCalls` says why).
   */
  readonly idle: { readonly verdict: 'idle' | 'busy'; readonly at: string } | null;
  /**
   * The box's agent from SSM State Manager; `null` when asking SSM failed (then `failedCalls` says why).
   */
  readonly agent: AgentStatus | null;
  /**
   * The box's data volume; `null` when the config has no `dataVolume`, or when asking EC2 failed (then
   * `failedCalls` says why).
   */
  readonly dataVolume: DataVolumeStatus | null;
  /** The current spot price in the box's AZ; `null` for other markets, or when asking EC2 for it failed. */
  readonly spotPricePerHour: number | null;
  /** What the box costs per running hour (spot price, else the catalog's on-demand price); 0 unless running. */
  readonly costPerHour: number;
}

/** A call whose answer only adds to a report, and that failed: what it would have filled is `null`. */
export interface FailedCall {
  /** The IAM action of the call, e.g. `cloudwatch:GetMetricStatistics`. */
  readonly action: string;
  /** The one-line error: what failed, AWS's error code and message, and what to do. */
  readonly message: string;
}

/** `status`: every box of the stack in the region. */
export interface StatusReport extends Report<'status'> {
  readonly region: string;
  readonly name: string;
  /** The SSM State Manager association whose status `agent` shows: `<name>-agent`. */
  readonly agentAssociation: string;
  /** Whose boxes these are; `null` when no box of the name was found at all and `--deployment` named none. */
  readonly deployment: DeploymentChoice | null;
  /** Whether the config has a `dataVolume`, and each box's `dataVolume` says which is attached to it. */
  readonly dataVolumes: boolean;
  readonly boxes: readonly BoxStatus[];
  /** Sum over the running boxes, USD per hour, storage not included. */
  readonly costPerHour: number;
  /** One entry per kind of secondary call that failed (each is also a warning line on stderr); empty when none did. */
  readonly failedCalls: readonly FailedCall[];
}

export interface StartedBox extends BoxState {
  /** Every state seen while waiting, first to last, e.g. stopped, pending, running. */
  readonly statesSeen: readonly string[];
  /** Whether its SSM agent reported Online. */
  readonly reachable: boolean;
}

/** `start`: the boxes started and waited for. */
export interface StartReport extends Report<'start'> {
  readonly region: string;
  readonly name: string;
  readonly deployment: DeploymentChoice;
  /** `capacity-not-back`: a spot box waits for capacity; `timed-out`: not running and reachable in time. */
  readonly outcome: 'ready' | 'capacity-not-back' | 'timed-out';
  readonly boxes: readonly StartedBox[];
  /** Commands that connect to the first box. */
  readonly connect: { readonly ssh: string; readonly sessionManager: string };
}

/** `stop`: the boxes asked to stop. */
export interface StopReport extends Report<'stop'> {
  readonly region: string;
  readonly name: string;
  readonly deployment: DeploymentChoice;
  readonly stopped: readonly { readonly instanceId: string; readonly previousState: string; readonly currentState: string }[];
  /** Boxes that were stopped or stopping already. */
  readonly alreadyStopped: readonly string[];
}

/** `ssh --print` / `--output json`: how `ssh` would connect. */
export interface SshReport extends Report<'ssh'> {
  readonly region: string;
  readonly instanceId: string;
  readonly deployment: DeploymentChoice;
  /** `session-manager` unless sshCidrs opens port 22 and the box has a public IP. */
  readonly route: 'session-manager' | 'public-ip';
  /** The ssh command line, program first. */
  readonly argv: readonly string[];
}

/** `ssh-config`: the managed file of Host blocks. */
export interface SshConfigReport extends Report<'ssh-config'> {
  readonly file: string;
  /** The ssh config that includes it. */
  readonly includedFrom: string;
  readonly action: 'written' | 'unchanged' | 'removed' | 'absent';
  /** Whose boxes the blocks reach; `null` for `--remove`, which asks AWS nothing. */
  readonly deployment: DeploymentChoice | null;
  readonly hosts: readonly { readonly alias: string; readonly instanceId: string }[];
}

// ---------------------------------------------------------------------------------------------
// The cluster: cluster start, status, ssh, submit
// ---------------------------------------------------------------------------------------------

/** An instance of the cluster that Slurm runs as a compute node. */
export interface ClusterInstance extends BoxState {
  /** Its Slurm node name (the `slurm:node` tag), e.g. `trainium-spot-1`. */
  readonly slurmName: string;
}

/** What one of the cluster's instances costs now. */
export interface InstanceCost {
  /**
   * USD per running hour by its market: the current spot price in its AZ (spot), the catalog's on-demand price
   * (on-demand), 0 for a Capacity Block's instance (the block is paid for up front); `null` when unknown (the
   * spot price could not be read, or the catalog has no price for the type).
   */
  readonly pricePerHour: number | null;
  /** What it costs per hour now: its price while running, else 0; `null` when running at an unknown price. */
  readonly costPerHour: number | null;
}

export interface ClusterNodeStatus extends ClusterInstance, InstanceCost {}

/** One job of the Slurm queue, as squeue prints it on the head. */
export interface QueueJob {
  readonly jobId: string;
  readonly name: string;
  readonly user: string;
  /** squeue's extended state, e.g. `RUNNING`, `PENDING`, `CONFIGURING`. */
  readonly state: string;
  /** Time used, as squeue prints it (`1:02:03`, `0:00`). */
  readonly time: string;
  readonly nodes: number;
  /** The nodes it runs on, or why it waits (squeue's `%R`), e.g. `(Resources)`. */
  readonly nodelistOrReason: string;
}

/** `cluster status`: the head, the compute nodes, the queue, and what it all costs now. */
export interface ClusterStatusReport extends Report<'cluster-status'> {
  readonly region: string;
  readonly name: string;
  /** The configured node type, market and most nodes at once. */
  readonly instanceType: string;
  readonly market: string;
  readonly maxNodes: number;
  /** `null`: no head of the cluster in the region. */
  readonly head: (BoxState & InstanceCost) | null;
  /** By Slurm node name. */
  readonly nodes: readonly ClusterNodeStatus[];
  /** The Slurm queue, oldest first; `null` when it could not be read (`queueProblem` says why). */
  readonly queue: readonly QueueJob[] | null;
  /** Why `queue` is `null` (the head is not running, SSM failed, squeue failed); `null` when it was read. */
  readonly queueProblem: string | null;
  /** The running instances' known costs added up, USD per hour (storage not included). */
  readonly costPerHour: number;
  /** False when a running instance's price is unknown: then `costPerHour` leaves it out. */
  readonly costComplete: boolean;
  /** One entry per kind of secondary call that failed (each is also a warning line on stderr). */
  readonly failedCalls: readonly FailedCall[];
}

/** `cluster start`: the head started and waited for. */
export interface ClusterStartReport extends Report<'cluster-start'> {
  readonly region: string;
  readonly name: string;
  /** `running`: the head runs; `timed-out`: it did not within the wait. */
  readonly outcome: 'running' | 'timed-out';
  readonly head: BoxState & { readonly statesSeen: readonly string[] };
}

/** `cluster ssh --print` / `--output json`: how `cluster ssh` would connect to the head. */
export interface ClusterSshReport extends Report<'cluster-ssh'> {
  readonly region: string;
  readonly instanceId: string;
  /** `ssh`: ssh through Session Manager with the head's key; `session-manager-shell`: the head has no key pair, a plain shell. */
  readonly route: 'ssh' | 'session-manager-shell';
  /** The command line, program first. */
  readonly argv: readonly string[];
}

/** `cluster submit`: the batch job submitted on the head. */
export interface ClusterSubmitReport extends Report<'cluster-submit'> {
  readonly region: string;
  readonly name: string;
  readonly headInstanceId: string;
  /** Slurm's job id. */
  readonly jobId: string;
  readonly jobName: string;
  readonly nodes: number;
  /** `torchrun` for a Python script, else `srun`. */
  readonly launcher: 'torchrun' | 'srun';
  /** Where the head keeps the script (its output is beside it); `null` when sbatch's wrapper did not say. */
  readonly scriptPath: string | null;
  /** The batch script as submitted. */
  readonly script: string;
  /** The SSM command that submitted it. */
  readonly commandId: string;
}

export type AnyReport =
  | QuotaReport
  | QuotaRequestReport
  | QuotaStatusReport
  | CapacityReport
  | CapacityOfferingsReport
  | SpotPriceReport
  | RegionsReport
  | ImageReport
  | CatalogReport
  | WhereReport
  | StatusReport
  | StartReport
  | StopReport
  | SshReport
  | SshConfigReport
  | ClusterStatusReport
  | ClusterStartReport
  | ClusterSshReport
  | ClusterSubmitReport;
