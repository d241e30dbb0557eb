import { Construct } from 'constructs';
import { SsmAssociation } from '@cdktf/provider-aws/lib/ssm-association';
import { SsmDocument } from '@cdktf/provider-aws/lib/ssm-document';
import { AGENT_SCHEDULE } from '../catalog';
import { SHARED_STORAGE_SOURCE_PARAMETER } from '../cluster/head-agent';
import { literal } from '../terraform-literal';
import type { AgentDocument } from '../userdata';
import { agentDocumentName } from './box-agent';

export interface ClusterHeadAgentProps {
  readonly name: string;
  /** The rendered document (src/cluster/head-agent.ts). */
  readonly document: AgentDocument;
  /** The tag only the head carries (key and value): the association runs the document on what carries it. */
  readonly headTag: { readonly key: string; readonly value: string };
  /**
   * The head's instance ARN up to the id, `arn:<partition>:ec2:<region>:<account>:instance/` (Terraform text, known
   * at plan time), passed as `instanceArnPrefix`: the idle check names its own verdict namespace from it, as a box's.
   */
  readonly instanceArnPrefix: string;
  /** The shared storage's mount source (Terraform text, known at apply), passed as `sharedStorageSource`. */
  readonly sharedStorageSource: string;
}

/**
 * Delivers the head's software through State Manager, as BoxAgent delivers the box's: a Command document and an
 * association that runs it on the head when the head registers with Systems Manager, when the document changes
 * (its hash is a parameter, so a new document is a changed association, run at once), and every 30 minutes,
 * which mends what drifted. It targets a tag only the head carries, so no compute node runs it. It passes the
 * head's instance ARN prefix (for the idle check's namespace) and the shared storage's mount source (for /shared).
 */
export class ClusterHeadAgent extends Construct {
  readonly associationName: string;

  constructor(scope: Construct, id: string, props: ClusterHeadAgentProps) {
    super(scope, id);
    this.associationName = agentDocumentName(`${props.name}-cluster-head`);
    const document = new SsmDocument(this, 'document', {
      name: this.associationName,
      documentType: 'Command',
      documentFormat: 'JSON',
      // The installer is shell: its `${` must reach SSM as written, not as Terraform interpolation.
      content: literal(props.document.content),
    });
    new SsmAssociation(this, 'association', {
      name: document.name,
      associationName: this.associationName,
      targets: [{ key: `tag:${props.headTag.key}`, values: [props.headTag.value] }],
      parameters: {
        documentHash: props.document.hash,
        instanceArnPrefix: props.instanceArnPrefix,
        [SHARED_STORAGE_SOURCE_PARAMETER]: props.sharedStorageSource,
      },
      scheduleExpression: AGENT_SCHEDULE,
    });
  }
}
