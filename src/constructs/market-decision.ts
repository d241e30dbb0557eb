import { Construct } from 'constructs';
import { DataResource, TerraformLocal } from 'cdktf';
import type { QuotaCheck } from './quota-guard';

export interface MarketDecisionProps {
  readonly spot: QuotaCheck;
  readonly onDemand: QuotaCheck;
  readonly instanceCount: number;
}

/**
 * The `auto` market, decided by Terraform at plan time from the two quotas: spot when the spot
 * quota holds the boxes, else on-demand when that quota does, else the plan fails naming both.
 * It is plain Terraform, so Terraform Cloud and CI decide the same way without our code.
 */
export class MarketDecision extends Construct {
  /** `spot`, `on-demand`, or `none`, a plan-time expression. */
  readonly market: string;
  readonly spotCount: string;
  readonly onDemandCount: string;

  constructor(scope: Construct, id: string, props: MarketDecisionProps) {
    super(scope, id);

    const market = new TerraformLocal(this, 'market',
      `\${${props.spot.fitsRef} ? "spot" : (${props.onDemand.fitsRef} ? "on-demand" : "none")}`);
    this.market = market.asString;
    this.spotCount = `\${${market.fqn} == "spot" ? ${props.instanceCount} : 0}`;
    this.onDemandCount = `\${${market.fqn} == "on-demand" ? ${props.instanceCount} : 0}`;

    // A resource that always exists, so the "neither quota fits" guard runs even when both
    // instance resources have a count of 0 (preconditions of absent instances never run).
    new DataResource(this, 'guard', {
      input: { market: market.asString },
      lifecycle: {
        precondition: [{
          condition: `\${${market.fqn} != "none"}`,
          errorMessage: `Neither quota holds the boxes, so market "auto" has nowhere to launch. ` +
            `Spot: ${props.spot.errorMessage} On-demand: ${props.onDemand.errorMessage}`,
        }],
      },
    });
  }
}
