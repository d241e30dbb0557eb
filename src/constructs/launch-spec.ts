/**
 * What every purchase market launches with: one definition, so a spot box and an on-demand box of
 * the same config are the same machine. Secure values are fixed here, not options.
 */
import { Token } from 'cdktf';
import type { RenderedUserData } from '../userdata';

export interface LaunchSpec {
  readonly instanceType: string;
  readonly imageId: string;
  readonly subnetId: string;
  readonly securityGroupIds: string[];
  readonly keyName: string;
  readonly instanceProfileName: string;
  readonly userData: RenderedUserData;
  readonly rootVolumeSizeGiB: number;
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
    ...('userData' in spec.userData ? { userData: terraformLiteral(spec.userData.userData) } : spec.userData),
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

/**
 * Terraform reads `${` and `%{` in any JSON string as template syntax, and the user data carries
 * shell (`${VAR:-default}`) and user-given patterns: escaped, they reach EC2 exactly as written.
 */
export function terraformLiteral(text: string): string {
  return text.replace(/([$%])\{/g, (_, sign: string) => `${sign}${sign}{`);
}

export const CREATION_ONLY_ARGUMENTS = ['ami', 'user_data', 'user_data_base64'];

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
