import { Construct } from 'constructs';
import { DataResource } from 'cdktf';

/**
 * The deployment's own id, which its boxes carry as a tag so that the CLI can tell them from the boxes of
 * another deployment with the same name in the same account and region.
 *
 * It is the `id` of a `terraform_data` resource (Terraform's own provider, nothing to install): Terraform
 * generates it, a random UUID, when it creates the resource, plans it unknown only on create or when
 * `triggers_replace` changes, and a read returns what state holds
 * (https://github.com/hashicorp/terraform/blob/main/internal/builtin/providers/terraform/resource_data.go;
 * "A string value unique to the resource instance",
 * https://developer.hashicorp.com/terraform/language/resources/terraform-data; both checked 2026-12-07).
 * The resource has neither `input` nor `triggers_replace`, so no configuration change ever gives a
 * deployment a new id: only destroying it does. Its construct id is a public contract like any other.
 */
export class DeploymentId extends Construct {
  /** The id, known from the first apply on: `${terraform_data.<this>.id}`. */
  readonly id: string;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.id = new DataResource(this, 'id').id;
  }
}
