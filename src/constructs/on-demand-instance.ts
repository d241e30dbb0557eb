import { Construct } from 'constructs';
import { Precondition } from 'cdktf';
import { Instance } from '@cdktf/provider-aws/lib/instance';
import { BoxCount, BoxList, LaunchSpec, creationOnlyArguments, countArgument, launchArguments } from './launch-spec';

/** How an `aws_instance` is bought. */
export type InstanceMarket =
  | { readonly kind: 'on-demand' }
  /**
   * A persistent spot request made by RunInstances, whose instance stops (never terminates) on
   * interruption. RunInstances supports persistent requests only with `stop` or `hibernate`, and
   * keeps them open until cancelled: no `valid_until` needed. Deleting the instance cancels the
   * request first (checked in AWS provider 5.100.0, see the README), so a replaced box leaves no
   * request behind.
   */
  | { readonly kind: 'spot'; /** Set at launch: a changed cap applies to boxes launched later. */ readonly maxPricePerHour?: number }
  | { readonly kind: 'capacity-block'; readonly capacityReservationId: string }
  | { readonly kind: 'capacity-reservation'; readonly capacityReservationId?: string };

export interface OnDemandInstancesProps {
  readonly launch: LaunchSpec;
  readonly market: InstanceMarket;
  /** How many boxes: a number, or a plan-time expression (the `auto` market). */
  readonly count: BoxCount;
  /**
   * The tags only the instances carry, beyond the provider's default tags (RunInstances applies those
   * itself); values known only at apply are fine. The volumes get the `Name` alone.
   */
  readonly instanceTags: Readonly<Record<string, string>>;
  readonly preconditions: Precondition[];
}

/**
 * Instances launched by EC2 RunInstances: on demand, on spot, in a Capacity Block, or in an
 * On-Demand Capacity Reservation. Metadata and CPU options, tags and volume tags go in at launch.
 */
export class OnDemandInstances extends Construct implements BoxList {
  readonly instanceIds: string;
  /** The spot request ids of the boxes (`spot` market only; empty strings otherwise). */
  readonly spotRequestIds: string;
  readonly publicIps: string;
  readonly availabilityZones: string;

  constructor(scope: Construct, id: string, props: OnDemandInstancesProps) {
    super(scope, id);
    const count = countArgument(props.count);

    const instance = new Instance(this, 'instance', {
      count,
      ...launchArguments(props.launch),
      ...marketArguments(props.market),
      // `shutdown -h now` from the idle check must stop the box, not terminate it.
      instanceInitiatedShutdownBehavior: 'stop',
      // The provider's default tags add the rest (RunInstances tags the instance and volumes itself).
      tags: props.instanceTags,
      volumeTags: { Name: props.instanceTags.Name },
      lifecycle: { ignoreChanges: [...creationOnlyArguments(props.launch), ...marketIgnoredChanges(props.market)], precondition: props.preconditions },
    });

    this.instanceIds = `\${${instance.fqn}[*].id}`;
    this.spotRequestIds = `\${${instance.fqn}[*].spot_instance_request_id}`;
    this.publicIps = `\${${instance.fqn}[*].public_ip}`;
    this.availabilityZones = `\${${instance.fqn}[*].availability_zone}`;
  }
}

/**
 * - capacity-block: AWS provider 6.25 reads instance_market_options back as empty for any instance
 *   without a spot request (resourceInstanceRead), and a changed market_type replaces the instance:
 *   without this, every plan after the first would replace a Capacity Block box and its disk.
 *   Reported fixed after 6.25 in hashicorp/terraform-provider-aws PR #48701 (from a review of the
 *   provider source; the fix itself not re-checked here, 2026-12-01).
 * - spot: `spot_options.max_price` forces a new instance (ec2_instance.go), so a new price cap would
 *   replace the box and its disk; it applies to boxes launched later.
 */
function marketIgnoredChanges(market: InstanceMarket): string[] {
  switch (market.kind) {
    case 'capacity-block':
      return ['instance_market_options'];
    case 'spot':
      return ['instance_market_options[0].spot_options[0].max_price'];
    default:
      return [];
  }
}

function marketArguments(market: InstanceMarket) {
  switch (market.kind) {
    case 'on-demand':
      return {};
    case 'spot':
      return {
        instanceMarketOptions: {
          marketType: 'spot',
          spotOptions: {
            spotInstanceType: 'persistent',
            instanceInterruptionBehavior: 'stop',
            ...(market.maxPricePerHour !== undefined ? { maxPrice: String(market.maxPricePerHour) } : {}),
          },
        },
      };
    case 'capacity-block':
      return {
        instanceMarketOptions: { marketType: 'capacity-block' },
        capacityReservationSpecification: {
          capacityReservationTarget: { capacityReservationId: market.capacityReservationId },
        },
      };
    case 'capacity-reservation':
      return {
        capacityReservationSpecification: market.capacityReservationId !== undefined
          ? { capacityReservationTarget: { capacityReservationId: market.capacityReservationId } }
          : { capacityReservationPreference: 'open' },
      };
  }
}
