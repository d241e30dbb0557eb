import { Construct } from 'constructs';
import { DataResource, Precondition } from 'cdktf';
import { Ec2Tag } from '@cdktf/provider-aws/lib/ec2-tag';
import { SpotInstanceRequest } from '@cdktf/provider-aws/lib/spot-instance-request';
import { BoxCount, BoxList, LaunchSpec, creationOnlyArguments, countArgument, launchArguments } from './launch-spec';

/**
 * The launch arguments EC2's RequestSpotInstances can carry. It has no metadata or CPU options, and
 * the provider would accept both and drop them silently; the box requires IMDSv2 on itself instead
 * (see src/userdata/require-imdsv2.sh).
 */
function spotLaunchArguments(spec: LaunchSpec) {
  const { metadataOptions, cpuOptions, ...carried } = launchArguments(spec);
  return carried;
}

export interface SpotInstancesProps {
  readonly launch: LaunchSpec;
  /** How many boxes: a number, or a plan-time expression (the `auto` market). */
  readonly count: BoxCount;
  /**
   * Highest price per hour to pay, set when a request is made: a changed cap applies to requests
   * made later, never to a running box's.
   * @default - the on-demand price (AWS's default; a lower cap only adds interruptions)
   */
  readonly maxPricePerHour?: number;
  /** How long the persistent request stays open (AWS's own default is 7 days). */
  readonly validDays: number;
  /**
   * The Availability Zone (name) of the launch subnet. The provider leaves a spot request's
   * availability_zone unset when the request names no placement, so the boxes' zone comes from here.
   */
  readonly availabilityZone: string;
  /** Tags for the instances (tags on a spot request never reach its instance). */
  readonly instanceTags: Readonly<Record<string, string>>;
  readonly preconditions: Precondition[];
}

/**
 * Persistent spot requests whose instances stop, not terminate, on interruption: the disk and its
 * work survive, and the box comes back when capacity does.
 */
export class SpotInstances extends Construct implements BoxList {
  readonly instanceIds: string;
  readonly requestIds: string;
  /**
   * EC2's status code of each request (`fulfilled`, `capacity-not-available`, `price-too-low`, ...),
   * as of the last refresh.
   */
  readonly requestStatusCodes: string;
  readonly publicIps: string;
  readonly availabilityZones: string;

  constructor(scope: Construct, id: string, props: SpotInstancesProps) {
    super(scope, id);
    const count = countArgument(props.count);

    // valid_until must be a fixed time, yet synth output must not carry a wall-clock value: take it
    // at the first apply and keep it (ignore_changes), so later plans do not replace the request.
    const validUntil = new DataResource(this, 'valid-until', {
      input: { valid_until: `\${timeadd(timestamp(), "${props.validDays * 24}h")}` },
      lifecycle: { ignoreChanges: ['input'] },
    });

    const request = new SpotInstanceRequest(this, 'request', {
      count,
      ...spotLaunchArguments(props.launch),
      spotType: 'persistent',
      instanceInterruptionBehavior: 'stop',
      waitForFulfillment: true,
      validUntil: `\${${validUntil.fqn}.output.valid_until}`,
      ...(props.maxPricePerHour !== undefined ? { spotPrice: String(props.maxPricePerHour) } : {}),
      tags: { Name: props.instanceTags.Name },
      // A new price cap would replace the request and its box (every argument of a spot request but
      // its tags forces a new one): it applies to requests made later.
      lifecycle: { ignoreChanges: [...creationOnlyArguments(props.launch), 'spot_price'], precondition: props.preconditions },
    });

    // Construct ids by position: tag keys may hold characters that construct ids cannot tell apart.
    Object.entries(props.instanceTags).forEach(([key, value], index) => {
      new Ec2Tag(this, `tag-${index}`, {
        count,
        resourceId: `\${${request.fqn}[count.index].spot_instance_id}`,
        key,
        value,
      });
    });

    this.instanceIds = `\${${request.fqn}[*].spot_instance_id}`;
    this.requestIds = `\${${request.fqn}[*].id}`;
    this.requestStatusCodes = `\${${request.fqn}[*].spot_bid_status}`;
    this.publicIps = `\${${request.fqn}[*].public_ip}`;
    this.availabilityZones = `\${[for box in ${request.fqn} : ${props.availabilityZone}]}`;
  }
}
