import { Construct } from 'constructs';
import { EfsFileSystem } from '@cdktf/provider-aws/lib/efs-file-system';
import { EfsMountTarget } from '@cdktf/provider-aws/lib/efs-mount-target';
import { FsxLustreFileSystem } from '@cdktf/provider-aws/lib/fsx-lustre-file-system';
import type { ClusterSettings } from '../cluster-config';

export interface SharedStorageProps {
  readonly name: string;
  readonly storage: ClusterSettings['sharedStorage'];
  /** The nodes' subnet: the file system's mount target or Lustre servers live there, beside the nodes. */
  readonly subnetId: string;
  readonly securityGroupId: string;
}

/**
 * `/shared` on the head and every node: home of the job scripts, the data and the Neuron compile cache,
 * which saves every node the compile. EFS (default: pay per GiB stored, nothing while empty) or FSx for
 * Lustre scratch (a fixed size, billed while it exists). Both encrypted at rest.
 */
export class SharedStorage extends Construct {
  /** The `mount` source for /shared, as a plan-time expression: `<dns>:/` for EFS, `<dns>@tcp:/<mount name>` for Lustre. */
  readonly mountSource: string;
  readonly type: ClusterSettings['sharedStorage']['type'];

  constructor(scope: Construct, id: string, props: SharedStorageProps) {
    super(scope, id);
    this.type = props.storage.type;
    if (props.storage.type === 'fsx-lustre') {
      const lustre = new FsxLustreFileSystem(this, 'lustre', {
        deploymentType: 'SCRATCH_2',
        storageCapacity: props.storage.storageCapacityGiB,
        subnetIds: [props.subnetId],
        securityGroupIds: [props.securityGroupId],
        tags: { Name: `${props.name}-cluster-shared` },
      });
      this.mountSource = `\${${lustre.fqn}.dns_name}@tcp:/\${${lustre.fqn}.mount_name}`;
      return;
    }
    const efs = new EfsFileSystem(this, 'efs', {
      encrypted: true,
      performanceMode: 'generalPurpose',
      throughputMode: 'elastic',
      tags: { Name: `${props.name}-cluster-shared` },
    });
    new EfsMountTarget(this, 'mount-target', { fileSystemId: efs.id, subnetId: props.subnetId, securityGroups: [props.securityGroupId] });
    this.mountSource = `\${${efs.fqn}.dns_name}:/`;
  }
}
