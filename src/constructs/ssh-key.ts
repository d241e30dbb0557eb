import { Construct } from 'constructs';
import { KeyPair } from '@cdktf/provider-aws/lib/key-pair';
import { SsmParameter } from '@cdktf/provider-aws/lib/ssm-parameter';
import { PrivateKey } from '@cdktf/provider-tls/lib/private-key';
import { KEY_PARAMETER_PREFIX } from '../catalog';
import { literal } from '../terraform-literal';

export interface SshKeyProps {
  readonly name: string;
  /**
   * An OpenSSH public key to import.
   * @default - generate an ED25519 key and keep the private half in an SSM SecureString parameter
   */
  readonly publicKey?: string;
}

/** The box's SSH key pair: the user's own public key, or a generated one stored as a SecureString. */
export class SshKey extends Construct {
  readonly keyName: string;
  readonly keyPairId: string;
  /** Reference (no `${}`) to the OpenSSH public key of the pair. */
  readonly publicKeyRef: string;
  /** The SSM parameter holding the private key, when it was generated. */
  readonly privateKeyParameterName?: string;

  constructor(scope: Construct, id: string, props: SshKeyProps) {
    super(scope, id);

    if (props.publicKey !== undefined) {
      // A key's comment is free text: never a template.
      const imported = new KeyPair(this, 'key-pair', { keyNamePrefix: `${props.name}-`, publicKey: literal(props.publicKey) });
      this.keyName = imported.keyName;
      this.keyPairId = imported.keyPairId;
      this.publicKeyRef = `${imported.fqn}.public_key`;
      return;
    }

    // The private key is also in Terraform state: the README says so, and how to avoid it.
    const generated = new PrivateKey(this, 'private-key', { algorithm: 'ED25519' });
    const keyPair = new KeyPair(this, 'key-pair', {
      keyNamePrefix: `${props.name}-`,
      publicKey: generated.publicKeyOpenssh,
    });
    const parameter = new SsmParameter(this, 'private-key-parameter', {
      name: `${KEY_PARAMETER_PREFIX}${keyPair.keyPairId}`,
      description: `Private SSH key of the ${props.name} box (key pair ${keyPair.keyName})`,
      type: 'SecureString',
      value: generated.privateKeyOpenssh,
    });
    this.keyName = keyPair.keyName;
    this.keyPairId = keyPair.keyPairId;
    this.publicKeyRef = `${keyPair.fqn}.public_key`;
    this.privateKeyParameterName = parameter.name;
  }
}
