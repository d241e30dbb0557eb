/**
 * What every purchase market launches with: one definition, so a spot box and an on-demand box of
 * the same config are the same machine. Secure values are fixed here, not options.
 */
import { Token } from 'cdktf';
import { literal } from '../terraform-literal';
import type { RenderedUserData } from '../userdata';

export interface LaunchSpec {
  readonly instanceType: string;
  readonly imageId: string;
  readonly subnetId: string;
  readonly securityGroupIds: string[];
  readonly keyName: string;
  readonly instanceProfileName: string;
  /** The user data as the box receives it; `launchArguments` escapes it for Terraform. */
  readonly userData: RenderedUserData;
  readonly rootVolumeSizeGiB: number;
  /**
   * Whether the root volume size follows the AMI (a plan-time value) rather than the user's choice.
   * Such a size is kept at creation: a newer AMI never resizes or replaces a running box's disk.
   */
  readonly rootVolumeSizeFollowsImage: boolean;
  readonly rootVolumeIops: number;
  readonly rootVolumeThroughputMiBps: number;
  readonly cpuCoreCount: number;
  readonly cpuThreadsPerCore: number;
}

/**
 * Arguments shared by `aws_instance` and `aws_spot_instance_request`.
 * Changing the AMI or user data of a running box would replace it and its disk, so both are set at
 * creation only: a newer AMI from the public parameter never destroys anybody's work.
 */
export function launchArguments(spec: LaunchSpec) {
  return {
    instanceType: spec.instanceType,
    ami: spec.imageId,
    subnetId: spec.subnetId,
    vpcSecurityGroupIds: spec.securityGroupIds,
    keyName: spec.keyName,
    iamInstanceProfile: spec.instanceProfileName,
    ...terraformUserData(spec.userData),
    // CKV_AWS_126: one-minute metrics, which the one-minute idle alarm needs.
    monitoring: true,
    // CKV_AWS_135.
    ebsOptimized: true,
    cpuOptions: { coreCount: spec.cpuCoreCount, threadsPerCore: spec.cpuThreadsPerCore },
    // CKV_AWS_79: IMDSv2 only; hop limit 1 keeps tokens away from containers on the box.
    metadataOptions: { httpEndpoint: 'enabled', httpTokens: 'required', httpPutResponseHopLimit: 1 },
    // CKV_AWS_8: encrypted gp3 root volume.
    rootBlockDevice: {
      volumeType: 'gp3',
      volumeSize: spec.rootVolumeSizeGiB,
      iops: spec.rootVolumeIops,
      throughput: spec.rootVolumeThroughputMiBps,
      encrypted: true,
      deleteOnTermination: true,
    },
  };
}

/** User data is a script, not a template: `${` and `%{` in it must reach the box as written. */
function terraformUserData(userData: RenderedUserData): RenderedUserData {
  return { userData: literal(userData.userData) };
}

/**
 * Arguments kept as they were at creation (`ignore_changes`); boxes created later get the newer values.
 * - The AMI, the user data and a root volume size that follows the AMI all come from the public
 *   parameter, so a newer AMI never replaces or resizes a running box. `user_data_base64` too: boxes
 *   deployed before the agent moved to State Manager may carry their (larger) user data there.
 * - The key name: setting, rotating or re-commenting `sshPublicKey` replaces the key pair, whose
 *   name is generated, and `key_name` forces a new instance and a new spot request (AWS provider
 *   `internal/service/ec2/ec2_instance.go`, `ec2_spot_instance_request.go`): the box and its disk
 *   (`delete_on_termination`) would go. A running box gets a new public key through the agent instead.
 */
export function creationOnlyArguments(spec: LaunchSpec): string[] {
  return ['ami', 'user_data', 'user_data_base64', 'key_name', ...(spec.rootVolumeSizeFollowsImage ? ['root_block_device[0].volume_size'] : [])];
}

/** What every market exposes about its boxes: plan-time list expressions, one element per box. */
export interface BoxList {
  readonly instanceIds: string;
  readonly publicIps: string;
  readonly availabilityZones: string;
}

/** A box count: a number, or a plan-time expression (the `auto` market). */
export type BoxCount = number | string;

export function countArgument(count: BoxCount): number {
  return typeof count === 'number' ? count : Token.asNumber(count);
}
