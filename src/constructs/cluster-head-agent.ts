import { Construct } from 'constructs';
import { SHARED_STORAGE_SOURCE_PARAMETER } from '../cluster/head-agent';
import type { AgentDocument } from '../userdata';
import { agentDocumentName, installerAssociation } from './box-agent';

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
    installerAssociation(this, {
      documentName: this.associationName,
      associationName: this.associationName,
      document: props.document,
      target: props.headTag,
      parameters: {
        instanceArnPrefix: props.instanceArnPrefix,
        [SHARED_STORAGE_SOURCE_PARAMETER]: props.sharedStorageSource,
      },
    });
  }
}
