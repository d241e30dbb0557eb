import { Testing } from 'cdktf';
import { DataAwsServicequotasServiceQuota } from '@cdktf/provider-aws/lib/data-aws-servicequotas-service-quota';
import { QUOTAS } from '../../src/catalog';
import { QuotaGuard } from '../../src/constructs/quota-guard';

describe('QuotaGuard', () => {
  test('reads the Trn spot vCPU quota L-6B0D517C, not the Dedicated Hosts one', () => {
    const synthesized = Testing.synthScope((scope) => {
      new QuotaGuard(scope, 'guard', {
        region: 'us-east-2', instanceType: 'trn1.2xlarge', instanceCount: 1, vcpusPerInstance: 8, quotas: { spot: QUOTAS.trn.spot },
      });
    });
    expect(synthesized).toHaveDataSourceWithProperties(DataAwsServicequotasServiceQuota, { service_code: 'ec2', quota_code: 'L-6B0D517C' });
  });

  test('requires count x vCPUs and says exactly how to ask for them', () => {
    // GIVEN
    let guard: QuotaGuard | undefined;
    Testing.synthScope((scope) => {
      guard = new QuotaGuard(scope, 'guard', {
        region: 'us-west-2', instanceType: 'trn1.2xlarge', instanceCount: 3, vcpusPerInstance: 8,
        quotas: { spot: QUOTAS.trn.spot, 'on-demand': QUOTAS.trn['on-demand'] },
      });
    });
    // WHEN
    const spot = guard!.check('spot');
    const onDemand = guard!.check('on-demand');
    // THEN
    expect(guard!.neededVcpus).toBe(24);
    expect(spot.condition).toMatch(/\.value >= 24\}$/);
    expect(spot.errorMessage).toContain('3 x trn1.2xlarge needs 24 vCPUs');
    expect(spot.errorMessage).toContain('"All Trn Spot Instance Requests" (L-6B0D517C)');
    expect(spot.errorMessage).toContain(
      'aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-6B0D517C --desired-value 24 --region us-west-2');
    expect(onDemand.errorMessage).toContain('"Running On-Demand Trn instances" (L-2C3B7624)');
  });

  test('fails when asked for a market whose quota it did not read', () => {
    let guard: QuotaGuard | undefined;
    Testing.synthScope((scope) => {
      guard = new QuotaGuard(scope, 'guard', {
        region: 'us-east-2', instanceType: 'trn1.2xlarge', instanceCount: 1, vcpusPerInstance: 8, quotas: { spot: QUOTAS.trn.spot },
      });
    });
    expect(() => guard!.check('on-demand')).toThrow('no on-demand quota was read');
  });
});
