import { Construct } from 'constructs';
import { Precondition, TerraformLocal } from 'cdktf';
import { DataAwsServicequotasServiceQuota } from '@cdktf/provider-aws/lib/data-aws-servicequotas-service-quota';
import { EC2_SERVICE_CODE, QuotaMarket, QuotaRef, quotaIncreaseCommand } from '../catalog';

export interface QuotaGuardProps {
  readonly region: string;
  readonly instanceType: string;
  readonly instanceCount: number;
  /** vCPUs of one instance, as quotas count them (the type's default vCPUs). */
  readonly vcpusPerInstance: number;
  /** The quotas to read, by market. */
  readonly quotas: Partial<Record<QuotaMarket, QuotaRef>>;
}

export interface QuotaCheck {
  /** Reference (no `${}`) to whether the quota holds the boxes. */
  readonly fitsRef: string;
  readonly condition: string;
  readonly errorMessage: string;
}

/**
 * Reads the EC2 vCPU quotas at plan time and phrases what to do when they are too small.
 * Terraform only sees the limit, not what other instances already use: the preflight CLI sees both.
 */
export class QuotaGuard extends Construct {
  readonly neededVcpus: number;
  private readonly checks = new Map<QuotaMarket, QuotaCheck>();

  constructor(scope: Construct, id: string, props: QuotaGuardProps) {
    super(scope, id);
    this.neededVcpus = props.vcpusPerInstance * props.instanceCount;

    for (const [market, quota] of Object.entries(props.quotas) as [QuotaMarket, QuotaRef][]) {
      const data = new DataAwsServicequotasServiceQuota(this, `${market}-vcpus`, {
        serviceCode: EC2_SERVICE_CODE,
        quotaCode: quota.code,
      });
      const fits = new TerraformLocal(this, `${market}-fits`, `\${${data.fqn}.value >= ${this.neededVcpus}}`);
      this.checks.set(market, {
        fitsRef: fits.fqn,
        condition: `\${${data.fqn}.value >= ${this.neededVcpus}}`,
        errorMessage:
          `Not enough EC2 ${market} quota in ${props.region}: ${props.instanceCount} x ${props.instanceType} needs ${this.neededVcpus} vCPUs, but ` +
          `"${quota.name}" (${quota.code}) is \${${data.fqn}.value} vCPUs. Ask for more with: ` +
          `${quotaIncreaseCommand(quota, this.neededVcpus, props.region)} ` +
          `-- approval usually takes hours to a business day; \`npx trainium-spot quota\` also shows what is in use.`,
      });
    }
  }

  /** The check for one market; the stack only asks for markets it passed in. */
  check(market: QuotaMarket): QuotaCheck {
    const check = this.checks.get(market);
    if (!check) throw new Error(`QuotaGuard: no ${market} quota was read`);
    return check;
  }

  /** The check for one market as a lifecycle precondition: the plan fails, with the message, when the quota is short. */
  precondition(market: QuotaMarket): Precondition {
    const { condition, errorMessage } = this.check(market);
    return { condition, errorMessage };
  }
}
