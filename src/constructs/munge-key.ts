import { Construct } from 'constructs';
import { SsmParameter } from '@cdktf/provider-aws/lib/ssm-parameter';

export interface MungeKeyProps {
  readonly name: string;
}

/** Written by the head at its first boot, in place of this marker. */
export const MUNGE_KEY_UNSET = 'unset: the head writes the key at its first boot';

/**
 * The SecureString that holds the cluster's munge key, base64-encoded, which only the cluster's roles may read.
 * Terraform creates it with a marker and never looks at its value again (`ignore_changes`): the head's agent
 * generates the key and writes it (src/userdata/cluster/munge-key.sh --generate), so the secret is never in
 * Terraform state or plan output; a node reads it with the same script.
 *
 * It is encrypted with the AWS managed key aws/ssm, whose key policy "grants Decrypt permission to all IAM
 * principals in the AWS account" (Systems Manager User Guide, "Restricting decryption of SecureString parameter
 * values", https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-restrict-decryption.html, checked
 * 2026-12-07): the roles need no kms: permission, and who may read the key is decided by ssm:GetParameter alone
 * (ClusterRoles denies every other parameter to the cluster's roles; other principals of the account with
 * ssm:GetParameter on it can read it too).
 */
export class MungeKey extends Construct {
  readonly parameterName: string;

  constructor(scope: Construct, id: string, props: MungeKeyProps) {
    super(scope, id);
    this.parameterName = `/trainium-spot/${props.name}/cluster/munge-key`;
    new SsmParameter(this, 'parameter', {
      name: this.parameterName,
      description: `${props.name} cluster: the munge key (written by the head; readable by the cluster's roles only)`,
      type: 'SecureString',
      value: MUNGE_KEY_UNSET,
      lifecycle: { ignoreChanges: ['value'] },
    });
  }
}
