import { Construct } from 'constructs';
import { Fn } from 'cdktf';
import { SsmAssociation } from '@cdktf/provider-aws/lib/ssm-association';
import { SsmDocument } from '@cdktf/provider-aws/lib/ssm-document';
import { AGENT_SCHEDULE, agentAssociationName, RESERVED_DOCUMENT_NAME_PREFIXES } from '../catalog';
import { literal } from '../terraform-literal';
import type { AgentDocument } from '../userdata';

export interface BoxAgentProps {
  readonly name: string;
  /** The rendered document (src/userdata/agent.ts). */
  readonly document: AgentDocument;
  /**
   * The deployment's tag (its value: the deployment id, known at apply): every instance that carries it gets
   * the agent, and no box of another deployment of the same name does.
   */
  readonly deploymentTag: { readonly key: string; readonly value: string };
  /** Reference (no `${}`) to the key pair's OpenSSH public key, which the agent authorizes on every box. */
  readonly publicKeyRef: string;
  /**
   * The boxes' instance ARN up to the id, `arn:<partition>:ec2:<region>:<account>:instance/` (Terraform text,
   * known at plan time): the idle check names its own verdict namespace from it and its instance id, without
   * a call to the instance metadata service.
   */
  readonly instanceArnPrefix: string;
  /**
   * Reference (no `${}`) to the list of the data volumes' ids, passed as `dataVolumeIds`: every box gets the
   * list and mounts the one attached to it.
   * @default - no data volume
   */
  readonly dataVolumeIdsRef?: string;
}

/**
 * The document's name before the deployment's part: the association's, unless that starts with a prefix
 * AWS reserves. Document names are unique in an account and region; the deployment id's first 8
 * characters make two deployments of one name two documents.
 */
export function agentDocumentName(name: string): string {
  const reserved = RESERVED_DOCUMENT_NAME_PREFIXES.some((prefix) => name.toLowerCase().startsWith(prefix));
  return reserved ? `trainium-spot-${name}-agent` : agentAssociationName(name);
}

/**
 * Delivers the box agent through State Manager: a Command document that installs it, and an
 * association that runs the document on every instance carrying the target tag. State Manager runs an
 * association when it is created or updated, on new targets when it detects them (a box launched later,
 * a replaced box, `auto`'s choice), and then on its schedule. Sources: SSM API Reference,
 * CreateAssociation and UpdateAssociation (`ApplyOnlyAtCronInterval`: "By default, when you create a
 * new association, the system runs it immediately after it is created and then according to the
 * schedule you specified and when target changes are detected"; "when you update an association, the
 * system runs it immediately after it is updated"),
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateAssociation.html and
 * .../API_UpdateAssociation.html, checked 2026-12-07.
 *
 * The association passes the document's hash as a parameter, so a changed document is also a changed
 * association, which runs at once rather than at the next scheduled run; and the public SSH key, so a
 * new `sshPublicKey` reaches the boxes that keep the key pair they were launched with; and the boxes' ARN up
 * to the instance id, from which each box names the one namespace it may publish its verdict to. Nothing
 * here touches an instance resource: a deploy that changes only the agent leaves every box where it is.
 */
export class BoxAgent extends Construct {
  readonly associationName: string;

  constructor(scope: Construct, id: string, props: BoxAgentProps) {
    super(scope, id);
    this.associationName = agentAssociationName(props.name);
    installerAssociation(this, {
      documentName: `${agentDocumentName(props.name)}-${Fn.substr(props.deploymentTag.value, 0, 8)}`,
      associationName: this.associationName,
      document: props.document,
      target: props.deploymentTag,
      parameters: {
        // Type and key only: a key's comment is free text, and the document allows no free text.
        sshPublicKey: `\${join(" ", slice(split(" ", trimspace(${props.publicKeyRef})), 0, 2))}`,
        instanceArnPrefix: props.instanceArnPrefix,
        ...(props.dataVolumeIdsRef !== undefined ? { dataVolumeIds: `\${join(" ", ${props.dataVolumeIdsRef})}` } : {}),
      },
    });
  }
}

/**
 * An installer document (src/userdata/agent.ts renderInstallerDocument) as a Command document in `scope`, and the
 * association that runs it on every instance carrying the target tag, on AGENT_SCHEDULE, with the document's hash
 * as its first parameter. The box agent and the cluster's head agent are two of them.
 */
export function installerAssociation(scope: Construct, props: {
  readonly documentName: string;
  readonly associationName: string;
  readonly document: AgentDocument;
  readonly target: { readonly key: string; readonly value: string };
  /** The parameters besides `documentHash` (Terraform text). */
  readonly parameters: Readonly<Record<string, string>>;
}): void {
  const document = new SsmDocument(scope, 'document', {
    name: props.documentName,
    documentType: 'Command',
    documentFormat: 'JSON',
    // The installer is shell: its `${` must reach SSM as written, not as Terraform interpolation.
    content: literal(props.document.content),
  });
  new SsmAssociation(scope, 'association', {
    name: document.name,
    associationName: props.associationName,
    targets: [{ key: `tag:${props.target.key}`, values: [props.target.value] }],
    parameters: { documentHash: props.document.hash, ...props.parameters },
    scheduleExpression: AGENT_SCHEDULE,
  });
}
