import { Construct } from 'constructs';
import { SsmParameter } from '@cdktf/provider-aws/lib/ssm-parameter';

export interface MungeKeyProps {
  readonly name: string;
}

/** Written by the head at its first boot, in place of this marker. */
export const MUNGE_KEY_UNSET = 'unset: the head writes the key at its first boot';

/**
 * The SecureString that holds the cluster's munge key, which only the cluster's roles may read. Terraform
 * creates it with a marker and never looks at its value again (`ignore_changes`): the head generates the key
 * and writes it, so the secret is never in Terraform state or plan output.
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
