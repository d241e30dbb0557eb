/** The part of @aws-sdk/client-service-quotas the CLI uses, by name (see ./ec2.ts). */
export {
  GetAWSDefaultServiceQuotaCommand,
  GetServiceQuotaCommand,
  RequestServiceQuotaIncreaseCommand,
  ServiceQuotasClient,
  paginateListRequestedServiceQuotaChangeHistoryByQuota,
} from '@aws-sdk/client-service-quotas';
