import { Construct } from 'constructs';
import { DataAwsSsmParameter } from '@cdktf/provider-aws/lib/data-aws-ssm-parameter';
import { Instance } from '@cdktf/provider-aws/lib/instance';
import { HEAD_IMAGE_PARAMETER } from '../catalog';

export interface ClusterHeadProps {
  readonly name: string;
  readonly instanceType: string;
  readonly subnetId: string;
  /**
   * The head's private IPv4 address in `subnetId`, fixed so that it is known at synth: slurm.conf names it
   * (SlurmctldHost) and the nodes find the head by it. A new address replaces the head.
   */
  readonly privateIp: string;
  readonly securityGroupId: string;
  readonly instanceProfileName: string;
  /** Tags of the head instance (the provider's default tags add the project's). */
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * The head node: the Slurm controller, the login box and the nodes' way out. Small and on demand: it runs
 * while the cluster is in use and stops itself when idle like a box (`trainium-spot cluster start` starts it).
 * Its source/destination check is off, so it can forward the nodes' traffic (the nodes' default route). Its
 * software comes from State Manager (ClusterHeadAgent), not from user data, like a box's.
 */
export class ClusterHead extends Construct {
  readonly instanceId: string;
  /** Reference (no `${}`) to the head's instance id, for lists such as the backstop's. */
  readonly instanceIdRef: string;
  readonly networkInterfaceId: string;
  readonly privateIp: string;
  readonly publicIp: string;

  constructor(scope: Construct, id: string, props: ClusterHeadProps) {
    super(scope, id);
    const image = new DataAwsSsmParameter(this, 'image', { name: HEAD_IMAGE_PARAMETER });
    const head = new Instance(this, 'instance', {
      ami: image.insecureValue,
      instanceType: props.instanceType,
      subnetId: props.subnetId,
      privateIp: props.privateIp,
      vpcSecurityGroupIds: [props.securityGroupId],
      iamInstanceProfile: props.instanceProfileName,
      sourceDestCheck: false,
      monitoring: true,
      ebsOptimized: true,
      instanceInitiatedShutdownBehavior: 'stop',
      metadataOptions: { httpEndpoint: 'enabled', httpTokens: 'required', httpPutResponseHopLimit: 1, instanceMetadataTags: 'enabled' },
      rootBlockDevice: { volumeType: 'gp3', volumeSize: 30, encrypted: true, deleteOnTermination: true },
      tags: { ...props.tags },
      volumeTags: { Name: props.tags.Name },
      // A newer Ubuntu image never replaces a running head (and Slurm's state on its disk).
      lifecycle: { ignoreChanges: ['ami'] },
    });
    this.instanceId = head.id;
    this.instanceIdRef = `${head.fqn}.id`;
    this.networkInterfaceId = head.primaryNetworkInterfaceId;
    this.privateIp = head.privateIp;
    this.publicIp = head.publicIp;
  }
}
