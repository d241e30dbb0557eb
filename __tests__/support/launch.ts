import type { LaunchSpec } from '../../src/constructs/launch-spec';

/** A launch spec with literal values, for construct tests that do not need the whole stack. */
export const LAUNCH: LaunchSpec = {
  instanceType: 'trn1.2xlarge',
  imageId: 'ami-0123456789abcdef0',
  subnetId: 'subnet-0123456789abcdef0',
  securityGroupIds: ['sg-0123456789abcdef0'],
  keyName: 'box-key',
  instanceProfileName: 'box-profile',
  userData: { userData: '#cloud-config\n' },
  rootVolumeSizeGiB: 50,
  rootVolumeSizeFollowsImage: false,
  rootVolumeIops: 3000,
  rootVolumeThroughputMiBps: 125,
  cpuCoreCount: 4,
  cpuThreadsPerCore: 2,
};
